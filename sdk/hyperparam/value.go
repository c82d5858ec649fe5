package hyperparam

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Object is a decoded JSON object in the order its keys first appear, as a
// Python dict built by json.loads keeps them. A key that appears twice keeps
// its first position and its last value, as in Python.
type Object []Member

// Member is one key of an Object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value of key and whether it is present.
func (o Object) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// Keys returns the keys in order.
func (o Object) Keys() []string {
	keys := make([]string, len(o))
	for i, m := range o {
		keys[i] = m.Key
	}
	return keys
}

// maxIntDigits is CPython's default int_max_str_digits: json.loads raises
// ValueError for longer integer literals, and the toolkit then keeps the raw
// string.
const maxIntDigits = 4300

// maxDepth bounds nesting, standing in for Python's recursion limit.
const maxDepth = 1000

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("invalid JSON")

// Value decodes one hyperparameter the way sagemaker-training-toolkit does:
// json.loads when that succeeds, otherwise the raw string. So "2" is the int
// 2, "0.01" the float 0.01, "\"train.py\"" (the Python SDK's quoted form) the
// string train.py, "true" the bool true, "null" nil, and "pure_nccl" stays
// the string pure_nccl.
//
// The result is nil, bool, int64 (or *big.Int when it does not fit), float64,
// string, []any or Object.
func Value(raw string) any {
	v, err := Parse(raw)
	if err != nil {
		return raw
	}
	return v
}

// Parse is Python's json.loads: it accepts what CPython's decoder accepts
// (including NaN, Infinity and -Infinity) and keeps ints apart from floats.
// It returns an error wrapping ErrSyntax where json.loads raises ValueError.
func Parse(s string) (any, error) {
	p := parser{s: s}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errorf("extra data")
	}
	return v, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, fmt.Sprintf(format, args...), p.i)
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) literal(lit string) bool {
	if strings.HasPrefix(p.s[p.i:], lit) {
		p.i += len(lit)
		return true
	}
	return false
}

func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nesting too deep")
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("expecting value")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == 'n' && p.literal("null"):
		return nil, nil
	case c == 't' && p.literal("true"):
		return true, nil
	case c == 'f' && p.literal("false"):
		return false, nil
	case c == 'N' && p.literal("NaN"):
		return math.NaN(), nil
	case c == 'I' && p.literal("Infinity"):
		return math.Inf(1), nil
	case c == '-' && p.literal("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errorf("expecting value")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) number() (any, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
		p.i = start
		return nil, p.errorf("expecting value")
	}
	if p.s[p.i] == '0' {
		p.i++
	} else {
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	}
	isFloat := false
	if p.i+1 < len(p.s) && p.s[p.i] == '.' && isDigit(p.s[p.i+1]) {
		isFloat = true
		p.i += 2
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		j := p.i + 1
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if j < len(p.s) && isDigit(p.s[j]) {
			for j < len(p.s) && isDigit(p.s[j]) {
				j++
			}
			isFloat = true
			p.i = j
		}
	}
	lit := p.s[start:p.i]
	if isFloat {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, p.errorf("bad number %q", lit)
		}
		return f, nil // out of range: ±Inf or 0, as Python's float()
	}
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return n, nil
	}
	if len(strings.TrimPrefix(lit, "-")) > maxIntDigits {
		return nil, p.errorf("integer literal longer than %d digits", maxIntDigits)
	}
	b, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return nil, p.errorf("bad number %q", lit)
	}
	return b, nil
}

func hexVal(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

func (p *parser) str() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("invalid control character")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errorf("unterminated string")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hexVal(p.s[p.i:])
				if !ok {
					return "", p.errorf("invalid \\uXXXX escape")
				}
				p.i += 4
				if utf16.IsSurrogate(r) && r < 0xdc00 && strings.HasPrefix(p.s[p.i:], `\u`) {
					if r2, ok := hexVal(p.s[p.i+2:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
						r = utf16.DecodeRune(r, r2)
						p.i += 6
					}
				}
				// A lone surrogate cannot live in a Go string: it becomes U+FFFD.
				b.WriteRune(r)
			default:
				p.i--
				return "", p.errorf("invalid \\escape")
			}
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			b.WriteRune(r)
			p.i += size
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	p.i++
	list := []any{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return list, nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("expecting ',' delimiter")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return list, nil
		default:
			return nil, p.errorf("expecting ',' delimiter")
		}
	}
}

func (p *parser) object(depth int) (any, error) {
	p.i++
	obj := Object{}
	// index finds a repeated key once the object is past a few keys, so
	// that an object of n keys parses in O(n), not O(n²).
	var index map[string]int
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return obj, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expecting property name enclosed in double quotes")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expecting ':' delimiter")
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if index == nil && len(obj) < indexFrom {
			obj = obj.set(key, v)
		} else {
			if index == nil {
				index = make(map[string]int, 2*len(obj))
				for i, m := range obj {
					index[m.Key] = i
				}
			}
			if i, ok := index[key]; ok {
				obj[i].Value = v // json.loads keeps the first place, the last value
			} else {
				index[key] = len(obj)
				obj = append(obj, Member{Key: key, Value: v})
			}
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("expecting ',' delimiter")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return obj, nil
		default:
			return nil, p.errorf("expecting ',' delimiter")
		}
	}
}

// indexFrom is the size from which object builds a key index: below it a
// scan is cheaper than a map.
const indexFrom = 16

// set sets key to v in place, or appends it; linear in len(o), so only for
// small objects.
func (o Object) set(key string, v any) Object {
	for i := range o {
		if o[i].Key == key {
			o[i].Value = v
			return o
		}
	}
	return append(o, Member{Key: key, Value: v})
}
