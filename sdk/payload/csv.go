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
	// Locals rather than m's fields keep the loop's state in registers.
	var data []float64
	rows, cols := 0, 0
	// A UTF-8 byte order mark, as spreadsheet exports write it.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	n := len(b)
	firstLine := 0
	line := 0
	i := 0
	for i < n {
		line++
		if c := b[i]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			// Perhaps a blank line: skip it.
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
		}
		if data == nil {
			cols = bytes.Count(lineOf(b[i:]), []byte{','}) + 1
			data = make([]float64, 0, (bytes.Count(b[i:], []byte{'\n'})+1)*cols)
			firstLine = line
		}
		col := 0
		for {
			col++
			// The fast path, inline: a plain decimal of at most 19 digits
			// right up to a comma, a newline or the end (see scanDecimal).
			j := i
			neg := false
			if j < n && b[j] == '-' {
				neg = true
				j++
			}
			ds := j
			var mant uint64
			for j < n {
				d := b[j] - '0'
				if d > 9 {
					break
				}
				mant = mant*10 + uint64(d)
				j++
			}
			nd := j - ds
			frac := 0
			if j < n && b[j] == '.' {
				j++
				fs := j
				for j < n {
					d := b[j] - '0'
					if d > 9 {
						break
					}
					mant = mant*10 + uint64(d)
					j++
				}
				frac = j - fs
				nd += frac
			}
			var f float64
			if uint(nd-1) < 19 && mant <= 1<<53 && (j == n || b[j] == ',' || b[j] == '\n') {
				f = float64(mant)
				if frac > 0 {
					f /= pow10[frac]
				}
				if neg {
					f = -f
				}
				i = j
			} else {
				var err error
				if f, i, err = field(b, i, line, col); err != nil {
					return nil, err
				}
			}
			if col > cols {
				return nil, &ParseError{Line: line, Column: col, Err: ErrRagged,
					Detail: "line " + strconv.Itoa(line) + " has more than " + strconv.Itoa(cols) +
						" fields; line " + strconv.Itoa(firstLine) + " has " + strconv.Itoa(cols)}
			}
			data = append(data, f)
			// i is at a comma, a newline or the end.
			if i < n {
				i++
				if b[i-1] == ',' {
					continue
				}
			}
			break
		}
		if col < cols {
			return nil, &ParseError{Line: line, Column: col + 1, Err: ErrRagged,
				Detail: "line " + strconv.Itoa(line) + " has " + strconv.Itoa(col) +
					" fields; line " + strconv.Itoa(firstLine) + " has " + strconv.Itoa(cols)}
		}
		rows++
	}
	if rows == 0 {
		return &Matrix{}, nil
	}
	return &Matrix{Rows: rows, Cols: cols, Data: data}, nil
}

// field parses the field starting at b[i] in full generality: blanks
// around it, a "\r\n" line ending, exponents, long mantissas, inf and nan.
// It returns the index of the comma or newline after the field, or len(b).
func field(b []byte, i, line, col int) (float64, int, error) {
	n := len(b)
	end := i
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
	for i < e && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	text := b[i:e]
	if len(text) == 0 {
		return 0, 0, &ParseError{Line: line, Column: col, Err: ErrEmptyField}
	}
	f, err := ParseFloat(text)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, 0, &ParseError{Line: line, Column: col, Text: shorten(text), Err: err}
	}
	return f, end, nil
}

// lineOf returns b up to its first newline.
func lineOf(b []byte) []byte {
	if k := bytes.IndexByte(b, '\n'); k >= 0 {
		return b[:k]
	}
	return b
}
