package payload

import (
	"errors"
	"fmt"
)

// Sentinel causes carried in ParseError.Err, for callers that branch on them.
// A malformed or out-of-range number carries strconv.ErrSyntax or
// strconv.ErrRange instead.
var (
	// ErrEmptyField is an empty CSV field ("1,,2") or an empty JSON row.
	ErrEmptyField = errors.New("empty field")
	// ErrRagged is a row whose length differs from the first row's.
	ErrRagged = errors.New("rows of different lengths")
	// ErrJSON is JSON that is malformed or not an array of rows of numbers.
	ErrJSON = errors.New("not a JSON array of rows of numbers")
)

// ParseError reports where a payload could not be parsed.
type ParseError struct {
	// Line is 1-based.
	Line int
	// Column is 1-based: the field number in CSV, the byte in the line in JSON.
	Column int
	// Text is the offending field or token, shortened to 40 bytes.
	Text string
	// Detail says what was expected, when Err alone does not.
	Detail string
	// Err is the cause: ErrEmptyField, ErrRagged, ErrJSON, strconv.ErrSyntax
	// or strconv.ErrRange.
	Err error
}

func (e *ParseError) Error() string {
	msg := fmt.Sprintf("line %d, column %d: ", e.Line, e.Column)
	if e.Text != "" {
		msg += fmt.Sprintf("parsing %q: ", e.Text)
	}
	msg += e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

func shorten(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
