package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// ParseJSON parses a JSON array of rows of numbers, either bare
// ([[1,2],[3,4]]) or as the "instances" member of an object
// ({"instances": [[1,2],[3,4]]}, other members ignored), into a Matrix.
// Numbers follow JSON's grammar; null, strings and nested arrays inside a
// row are errors, as are rows of different lengths. An empty array gives a
// 0×0 Matrix.
func ParseJSON(b []byte) (*Matrix, error) {
	p := &jsonParser{b: b}
	p.ws()
	var m *Matrix
	var err error
	switch p.peek() {
	case '{':
		m, err = p.object()
	case '[':
		m, err = p.matrix()
	default:
		return nil, p.errorf("want an array of rows or an object with \"instances\"")
	}
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.errorf("unexpected data after the value")
	}
	return m, nil
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int) (line, col int) {
	line = bytes.Count(b[:off], []byte{'\n'}) + 1
	return line, off - bytes.LastIndexByte(b[:off], '\n')
}

func (p *jsonParser) errorAt(off int, err error, text []byte, detail string) error {
	line, col := position(p.b, off)
	return &ParseError{Line: line, Column: col, Text: shorten(text), Err: err, Detail: detail}
}

func (p *jsonParser) errorf(detail string) error {
	var text []byte
	if p.i < len(p.b) {
		end := min(p.i+1, len(p.b))
		text = p.b[p.i:end]
	} else {
		detail += " (at the end of the body)"
	}
	return p.errorAt(p.i, ErrJSON, text, detail)
}

func (p *jsonParser) expect(c byte, what string) error {
	if p.peek() != c {
		return p.errorf("want " + what)
	}
	p.i++
	return nil
}

func (p *jsonParser) object() (*Matrix, error) {
	p.i++ // '{'
	var m *Matrix
	p.ws()
	if p.peek() == '}' {
		p.i++
		return nil, p.errorAt(p.i-1, ErrJSON, nil, `the object has no "instances" member`)
	}
	for {
		p.ws()
		keyAt := p.i
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if err := p.expect(':', "':' after an object key"); err != nil {
			return nil, err
		}
		p.ws()
		if key == "instances" {
			if m != nil {
				return nil, p.errorAt(keyAt, ErrJSON, nil, `"instances" appears twice`)
			}
			if p.peek() != '[' {
				return nil, p.errorf(`want an array of rows as "instances"`)
			}
			if m, err = p.matrix(); err != nil {
				return nil, err
			}
		} else if err := p.skip(); err != nil {
			return nil, err
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
		default:
			return nil, p.errorf("want ',' or '}' in an object")
		}
		break
	}
	if m == nil {
		return nil, p.errorAt(p.i-1, ErrJSON, nil, `the object has no "instances" member`)
	}
	return m, nil
}

// str reads a JSON string and returns its value.
func (p *jsonParser) str() (string, error) {
	if p.peek() != '"' {
		return "", p.errorf("want a string")
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			escaped = true
			p.i += 2
			continue
		case '"':
			p.i++
			raw := p.b[start:p.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", p.errorAt(start, ErrJSON, raw, "malformed string")
			}
			return s, nil
		}
		p.i++
	}
	return "", p.errorAt(start, ErrJSON, p.b[start:], "unterminated string")
}

// skip passes over any JSON value, checking that it is well formed.
func (p *jsonParser) skip() error {
	start := p.i
	depth := 0
loop:
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			if _, err := p.str(); err != nil {
				return err
			}
			if depth == 0 {
				break loop
			}
		case c == '[' || c == '{':
			depth++
			p.i++
		case c == ']' || c == '}':
			if depth == 0 {
				break loop
			}
			depth--
			p.i++
			if depth == 0 {
				break loop
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			break loop
		default:
			p.i++
		}
	}
	if !json.Valid(p.b[start:p.i]) {
		return p.errorAt(start, ErrJSON, p.b[start:p.i], "malformed value")
	}
	return nil
}

func (p *jsonParser) matrix() (*Matrix, error) {
	p.i++ // '['
	m := &Matrix{}
	p.ws()
	if p.peek() == ']' {
		p.i++
		return m, nil
	}
	// Every number but the last in the body is followed by a comma.
	m.Data = make([]float64, 0, bytes.Count(p.b[p.i:], []byte{','})+1)
	for {
		p.ws()
		rowAt := p.i
		if err := p.expect('[', "'[' to start a row"); err != nil {
			return nil, err
		}
		cols := 0
		p.ws()
		if p.peek() == ']' {
			return nil, p.errorAt(rowAt, ErrEmptyField, nil, "empty row")
		}
		for {
			p.ws()
			f, err := p.number()
			if err != nil {
				return nil, err
			}
			cols++
			if m.Rows > 0 && cols > m.Cols {
				return nil, p.errorAt(rowAt, ErrRagged, nil, "row "+strconv.Itoa(m.Rows+1)+
					" has more than "+strconv.Itoa(m.Cols)+" numbers; row 1 has "+strconv.Itoa(m.Cols))
			}
			m.Data = append(m.Data, f)
			p.ws()
			if p.peek() == ',' {
				p.i++
				continue
			}
			if err := p.expect(']', "',' or ']' in a row"); err != nil {
				return nil, err
			}
			break
		}
		if m.Rows == 0 {
			m.Cols = cols
		} else if cols < m.Cols {
			return nil, p.errorAt(rowAt, ErrRagged, nil, "row "+strconv.Itoa(m.Rows+1)+
				" has "+strconv.Itoa(cols)+" numbers; row 1 has "+strconv.Itoa(m.Cols))
		}
		m.Rows++
		p.ws()
		if p.peek() == ',' {
			p.i++
			continue
		}
		if err := p.expect(']', "',' or ']' between rows"); err != nil {
			return nil, err
		}
		return m, nil
	}
}

// number reads a JSON number. Plain decimals of at most 19 digits are
// converted while the grammar is checked (Clinger's fast path, as in
// scanDecimal); the rest go through ParseFloat.
func (p *jsonParser) number() (float64, error) {
	b, start := p.b, p.i
	n := len(b)
	i := start
	neg := false
	if i < n && b[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	ds := i
	switch {
	case i < n && b[i] == '0':
		i++
	case i < n && b[i] >= '1' && b[i] <= '9':
		for i < n {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
			i++
		}
	default:
		return 0, p.errorf("want a number")
	}
	nd := i - ds
	frac := 0
	if i < n && b[i] == '.' {
		i++
		fs := i
		for i < n {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
			i++
		}
		frac = i - fs
		if frac == 0 {
			return 0, p.errorAt(start, strconv.ErrSyntax, b[start:min(i+1, n)], "want a digit after '.'")
		}
		nd += frac
	}
	if i < n && b[i]|0x20 == 'e' {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == n || b[i]-'0' > 9 {
			return 0, p.errorAt(start, strconv.ErrSyntax, b[start:min(i+1, n)], "want a digit in the exponent")
		}
		for i < n && b[i]-'0' <= 9 {
			i++
		}
		frac = -1 // not the fast case
	}
	p.i = i
	if frac >= 0 && nd <= 19 && mant <= 1<<53 {
		f := float64(mant)
		if frac > 0 {
			f /= pow10[frac]
		}
		if neg {
			f = -f
		}
		return f, nil
	}
	f, err := ParseFloat(b[start:i])
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, p.errorAt(start, err, b[start:i], "")
	}
	return f, nil
}
