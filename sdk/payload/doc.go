// Package payload parses numeric request bodies (text/csv and JSON arrays of
// numbers) into a dense float64 matrix, for Go inference handlers.
//
// The parsers are several times faster than encoding/csv or encoding/json
// followed by strconv: a hand-written scanner converts plain decimals
// (at most 19 significant digits, a small decimal exponent) with Clinger's
// exact fast path, an integer mantissa multiplied or divided by an exactly
// representable power of ten, and hands everything else to
// strconv.ParseFloat. Every value is therefore bit-for-bit what
// strconv.ParseFloat(field, 64) returns, including its errors: "inf",
// "infinity" and "nan" (any case, with a sign) are accepted as strconv
// accepts them, and out-of-range values such as 1e400 are errors.
//
// CSV rules: fields are separated by commas and lines end in "\n" or
// "\r\n"; spaces and tabs around a field are ignored; lines holding nothing
// but spaces or tabs, and a trailing newline, are skipped; there is no
// header and no quoting; every row must have as many fields as the first.
// An empty field, a malformed number or a ragged row is a *ParseError that
// names the line and the column.
package payload
