package serving

import (
	"io"
	"sync"
	"time"
)

// LineBuffer batches the lines written to it (such as a slog handler's) and
// passes them on to w at most one interval later, or as soon as 64 KiB have
// piled up. A busy server's access log then costs one write system call per
// batch instead of one per request. Call Flush before the program exits.
type LineBuffer struct {
	mu       sync.Mutex
	w        io.Writer
	buf      []byte
	interval time.Duration
	timer    *time.Timer
	armed    bool
}

// lineBufferLimit is how much LineBuffer holds before writing at once.
const lineBufferLimit = 64 << 10

// NewLineBuffer returns a LineBuffer in front of w; interval 0 means 50 ms.
func NewLineBuffer(w io.Writer, interval time.Duration) *LineBuffer {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	b := &LineBuffer{w: w, interval: interval, buf: make([]byte, 0, lineBufferLimit)}
	b.timer = time.AfterFunc(time.Hour, func() { b.Flush() })
	b.timer.Stop()
	return b
}

// Write keeps p for the next batch. Callers write whole lines, so a batch
// never splits one.
func (b *LineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= lineBufferLimit {
		return len(p), b.flushLocked()
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(b.interval)
	}
	return len(p), nil
}

// Flush writes out what is held.
func (b *LineBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *LineBuffer) flushLocked() error {
	b.armed = false
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
