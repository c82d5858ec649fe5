package launch

import (
	"bytes"
	"sync"
)

// tail keeps the last lines written to it, each cut to maxLine bytes, so a
// failure reason can quote them without holding the whole stream.
type tail struct {
	mu      sync.Mutex
	lines   []string // ring
	next    int
	full    bool
	partial []byte
	maxLine int
}

func newTail(n, maxLine int) *tail {
	if n < 1 {
		n = 1
	}
	return &tail{lines: make([]string, n), maxLine: maxLine}
}

// Write records p; it never fails.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.appendPartial(p)
			break
		}
		t.appendPartial(p[:i])
		t.push(string(bytes.TrimSuffix(t.partial, []byte("\r"))))
		t.partial = t.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (t *tail) appendPartial(p []byte) {
	if room := t.maxLine - len(t.partial); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		t.partial = append(t.partial, p...)
	}
}

func (t *tail) push(line string) {
	t.lines[t.next] = line
	t.next = (t.next + 1) % len(t.lines)
	if t.next == 0 {
		t.full = true
	}
}

// Lines returns the kept lines, oldest first, including an unterminated
// last line.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	if t.full {
		out = append(out, t.lines[t.next:]...)
	}
	out = append(out, t.lines[:t.next]...)
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
		if len(out) > len(t.lines) {
			out = out[1:]
		}
	}
	return out
}
