package payload

import (
	"bytes"
	"errors"
	"strconv"
)

// ParseCSV parses a text/csv body of numbers into a Matrix, following the
// rules in the package documentation. An empty body (or one of blank lines)
// gives a 0×0 Matrix.
func ParseCSV(b []byte) (*Matrix, error) {
	m := &Matrix{}
	// A UTF-8 byte order mark, as spreadsheet exports write it.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	n := len(b)
	firstLine := 0
	line := 0
	i := 0
	for i < n {
		line++
		// Skip blank lines.
		j := i
		for j < n && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j == n {
			break
		}
		if b[j] == '\n' {
			i = j + 1
			continue
		}
		if b[j] == '\r' && j+1 < n && b[j+1] == '\n' {
			i = j + 2
			continue
		}
		if m.Data == nil {
			m.Cols = bytes.Count(lineOf(b[j:]), []byte{','}) + 1
			m.Data = make([]float64, 0, (bytes.Count(b[j:], []byte{'\n'})+1)*m.Cols)
			firstLine = line
		}
		col := 0
		for {
			col++
			// i is at the start of a field: skip leading blanks.
			for i < n && (b[i] == ' ' || b[i] == '\t') {
				i++
			}
			f, k, ok := fastFloat(b[i:])
			end := i + k
			if ok {
				// The number must end the field: blanks, then a comma, a
				// line end or the end of the body.
				for end < n && (b[end] == ' ' || b[end] == '\t') {
					end++
				}
				ok = end == n || b[end] == ',' || b[end] == '\n' ||
					(b[end] == '\r' && end+1 < n && b[end+1] == '\n')
			}
			if !ok {
				// Slow path: the whole field, trimmed, through strconv.
				end = i
				for end < n && b[end] != ',' && b[end] != '\n' {
					end++
				}
				e := end
				if e > i && e < n && b[e] == '\n' && b[e-1] == '\r' {
					e--
				}
				for e > i && (b[e-1] == ' ' || b[e-1] == '\t') {
					e--
				}
				field := b[i:e]
				if len(field) == 0 {
					return nil, &ParseError{Line: line, Column: col, Err: ErrEmptyField}
				}
				var err error
				f, err = strconv.ParseFloat(string(field), 64)
				if err != nil {
					var ne *strconv.NumError
					if errors.As(err, &ne) {
						err = ne.Err
					}
					return nil, &ParseError{Line: line, Column: col, Text: shorten(field), Err: err}
				}
			}
			if col > m.Cols {
				return nil, &ParseError{Line: line, Column: col, Err: ErrRagged,
					Detail: "line " + strconv.Itoa(line) + " has more than " + strconv.Itoa(m.Cols) +
						" fields; line " + strconv.Itoa(firstLine) + " has " + strconv.Itoa(m.Cols)}
			}
			m.Data = append(m.Data, f)
			// end is at a comma, "\n", "\r\n" or the end of the body.
			i = end
			if i < n && b[i] == ',' {
				i++
				continue
			}
			if i < n && b[i] == '\r' {
				i++
			}
			if i < n {
				i++ // the newline
			}
			break
		}
		if col < m.Cols {
			return nil, &ParseError{Line: line, Column: col + 1, Err: ErrRagged,
				Detail: "line " + strconv.Itoa(line) + " has " + strconv.Itoa(col) +
					" fields; line " + strconv.Itoa(firstLine) + " has " + strconv.Itoa(m.Cols)}
		}
		m.Rows++
	}
	if m.Rows == 0 {
		m.Cols = 0
	}
	return m, nil
}

// lineOf returns b up to its first newline.
func lineOf(b []byte) []byte {
	if k := bytes.IndexByte(b, '\n'); k >= 0 {
		return b[:k]
	}
	return b
}
