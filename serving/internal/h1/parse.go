package h1

import "bytes"

// maxFields bounds the header lines of a request the loop serves itself;
// a request with more goes to net/http, which has no such bound.
const maxFields = 64

// field is one header line: slices of the connection's buffer.
type field struct{ name, value []byte }

// head is one request head as parseHead found it. Its slices point into the
// buffer it was parsed from.
type head struct {
	n             int // bytes of the head, its final empty line included
	method        []byte
	target        []byte
	host          []byte
	contentLength int64 // -1 when the request has no Content-Length
	close         bool  // Connection: close
	fields        []field
}

// parseHead parses the request head at the start of b. complete is false
// while b holds no whole head. ok is false for a head the loop leaves to
// net/http: anything but the plain shape every SageMaker client sends
// (HTTP/1.1, an origin-form target, a single Host, at most one
// Content-Length, no Transfer-Encoding or Expect, CRLF line ends, header
// names that are tokens and values without control bytes), and also for a
// malformed one, so that net/http, not this parser, decides how to refuse
// it.
func parseHead(b []byte, h *head) (complete, ok bool) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		// A head with bare LF line ends never has CRLFCRLF: it is complete
		// once it has two LFs in a row, and net/http reads it.
		if bytes.Contains(b, lflf) || bytes.Contains(b, lfcrlf) {
			return true, false
		}
		return false, false
	}
	h.n = end + 4
	h.host, h.contentLength, h.close = nil, -1, false
	h.fields = h.fields[:0]
	lines := b[:end+2]

	eol := bytes.Index(lines, crlf)
	if !requestLine(lines[:eol], h) {
		return true, false
	}
	lines = lines[eol+2:]
	for len(lines) > 0 {
		eol = bytes.Index(lines, crlf)
		line := lines[:eol]
		lines = lines[eol+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || len(h.fields) == maxFields {
			return true, false
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !isToken(name) || !validValue(value) {
			return true, false
		}
		switch {
		case equalFold(name, "content-length"):
			if h.contentLength >= 0 {
				return true, false
			}
			if h.contentLength = parseLength(value); h.contentLength < 0 {
				return true, false
			}
		case equalFold(name, "host"):
			if h.host != nil || !validHost(value) {
				return true, false
			}
			h.host = value
		case equalFold(name, "transfer-encoding"), equalFold(name, "expect"):
			return true, false
		case equalFold(name, "connection"):
			h.close = h.close || hasToken(value, "close")
		}
		h.fields = append(h.fields, field{name, value})
	}
	return true, h.host != nil
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	lflf     = []byte("\n\n")
	lfcrlf   = []byte("\n\r\n")
)

// requestLine parses "METHOD SP /target SP HTTP/1.1" with an upper-case
// method other than HEAD (whose answer has no body: net/http writes it) and
// a target of printable ASCII starting with '/'.
func requestLine(line []byte, h *head) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	h.method, line = line[:sp], line[sp+1:]
	for _, c := range h.method {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	if string(h.method) == "HEAD" {
		return false
	}
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 || line[0] != '/' || string(line[sp+1:]) != "HTTP/1.1" {
		return false
	}
	h.target = line[:sp]
	for _, c := range h.target {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value: decimal digits only, at most
// 18 of them; -1 otherwise.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// trimOWS trims the spaces and tabs around a header value.
func trimOWS[T ~string | ~[]byte](b T) T {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken[T ~string | ~[]byte](b T) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !tokenByte[b[i]] {
			return false
		}
	}
	return true
}

// validValue reports whether a header value has no control byte but tab.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost accepts the bytes net/http's Host check accepts, minus any the
// SageMaker front never sends (the loop hands anything odd to net/http).
func validHost(b []byte) bool {
	for _, c := range b {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

// equalFold compares b with the lower-case ASCII s, ignoring case.
func equalFold[T ~string | ~[]byte](b T, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v has token tok (lower
// case), in any letter case.
func hasToken[T ~string | ~[]byte](v T, tok string) bool {
	for start := 0; start <= len(v); {
		end := start
		for end < len(v) && v[end] != ',' {
			end++
		}
		if equalFold(trimOWS(v[start:end]), tok) {
			return true
		}
		start = end + 1
	}
	return false
}

var tokenByte, hostByte [256]bool

func init() {
	for c := '0'; c <= '9'; c++ {
		tokenByte[c], hostByte[c] = true, true
	}
	for c := 'a'; c <= 'z'; c++ {
		tokenByte[c], hostByte[c] = true, true
		tokenByte[c-'a'+'A'], hostByte[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tokenByte[c] = true
	}
	for _, c := range "-._~:[]" {
		hostByte[c] = true
	}
}
