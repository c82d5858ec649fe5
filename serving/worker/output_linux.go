//go:build linux

package worker

import (
	"bytes"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/serving/internal/rawio"
)

// Worker output is collected by one goroutine that reads every worker's
// pipes in turn, a few times a second, instead of a reader per pipe that
// wakes on each write. A predictor that prints a line per request (AWS's
// scikit_bring_your_own example does) then costs the front no wake-up per
// request, and the worker is not preempted by one. Lines from different
// workers never interleave: only whole lines are passed on. Of a line that
// grows past 64 KiB before its end arrives, what has come is passed on in
// pieces of that size; those pieces, and an unfinished last line when its
// process ends, each get a newline of their own.

const (
	// drainFast is the polling interval while output flows; it doubles
	// up to drainSlow while all pipes are quiet.
	drainFast = 10 * time.Millisecond
	drainSlow = 100 * time.Millisecond
	// pipeSize is the capacity asked of each pipe (F_SETPIPE_SZ), so that a
	// burst written between two readings does not block the worker.
	pipeSize = 1 << 20
	// maxPiece bounds how much of an unfinished line is held back.
	maxPiece = 64 << 10
)

// readEnd is the read end of a worker's output pipe.
type readEnd int

func (r readEnd) close() { syscall.Close(int(r)) }

// outputPipe is the read end of one worker stream.
type outputPipe struct {
	fd      int
	w       io.Writer
	pending []byte // an unfinished line
	done    *sync.WaitGroup
}

var drain struct {
	mu      sync.Mutex
	pipes   []*outputPipe
	running bool
	wake    chan struct{}
	w       sync.Mutex // keeps lines whole across writers
}

// newOutputPipe returns a pipe: its write end for a worker process, its
// read end for follow.
func newOutputPipe() (r readEnd, w *os.File, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = syscall.Pipe2(p[:], syscall.O_CLOEXEC)
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, err
	}
	// A larger pipe, where allowed (up to /proc/sys/fs/pipe-max-size).
	syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), syscall.F_SETPIPE_SZ, pipeSize)
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return -1, nil, err
	}
	// A blocking write end, which os.NewFile leaves out of Go's poller: the
	// worker writes to it as to any pipe.
	return readEnd(p[0]), os.NewFile(uintptr(p[1]), "worker-output"), nil
}

// follow passes what arrives on the read end r to w, line by line, until
// every write end is closed; then it closes r and calls wg.Done.
func follow(r readEnd, w io.Writer, wg *sync.WaitGroup) {
	drain.mu.Lock()
	defer drain.mu.Unlock()
	drain.pipes = append(drain.pipes, &outputPipe{fd: int(r), w: w, done: wg})
	if drain.wake == nil {
		drain.wake = make(chan struct{}, 1)
	}
	if !drain.running {
		drain.running = true
		go drainLoop()
	}
	select {
	case drain.wake <- struct{}{}:
	default:
	}
}

// wakeOutput has the drainer read the pipes now, as when a worker has
// exited and its pipes' end is due.
func wakeOutput() {
	drain.mu.Lock()
	defer drain.mu.Unlock()
	if drain.wake != nil {
		select {
		case drain.wake <- struct{}{}:
		default:
		}
	}
}

// drainLoop reads every followed pipe, then sleeps; it ends when no pipe
// is left.
func drainLoop() {
	buf := make([]byte, 256<<10)
	interval := drainFast
	for {
		drain.mu.Lock()
		pipes := append([]*outputPipe(nil), drain.pipes...)
		drain.mu.Unlock()
		moved := false
		var ended []*outputPipe
		for _, p := range pipes {
			got, eof := p.read(buf)
			moved = moved || got
			if eof {
				ended = append(ended, p)
			}
		}
		if len(ended) > 0 {
			drain.mu.Lock()
			kept := drain.pipes[:0]
			for _, p := range drain.pipes {
				if !containsPipe(ended, p) {
					kept = append(kept, p)
				}
			}
			drain.pipes = kept
			drain.mu.Unlock()
			for _, p := range ended {
				syscall.Close(p.fd)
				p.done.Done()
			}
		}
		drain.mu.Lock()
		if len(drain.pipes) == 0 {
			drain.running = false
			drain.mu.Unlock()
			return
		}
		drain.mu.Unlock()
		if moved || len(ended) > 0 {
			interval = drainFast
		} else {
			interval = min(2*interval, drainSlow)
		}
		select {
		case <-time.After(interval):
		case <-drain.wake:
			interval = drainFast
		}
	}
}

func containsPipe(ps []*outputPipe, p *outputPipe) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// read takes what the pipe holds now and passes on its whole lines. It
// reports whether anything came, and whether the pipe has ended.
func (p *outputPipe) read(buf []byte) (got, eof bool) {
	for range 16 { // at most 4 MiB a round, so one chatty worker cannot hold up the rest
		// Raw: see rawio.ReadFD.
		n, err := rawio.ReadFD(p.fd, buf)
		if n > 0 {
			got = true
			p.pass(buf[:n])
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return got, false
		case err != nil || n == 0:
			// The end: what is left of an unfinished line goes out as a
			// line of its own.
			if len(p.pending) > 0 {
				p.write(append(p.pending, '\n'))
				p.pending = nil
			}
			return got, true
		}
	}
	return got, false
}

// pass writes the whole lines of pending+b and keeps the rest.
func (p *outputPipe) pass(b []byte) {
	if len(p.pending) > 0 {
		b = append(p.pending, b...)
		p.pending = nil
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		p.write(b[:i+1])
		b = b[i+1:]
	}
	for len(b) >= maxPiece {
		piece := make([]byte, maxPiece+1)
		copy(piece, b)
		piece[maxPiece] = '\n'
		p.write(piece)
		b = b[maxPiece:]
	}
	if len(b) > 0 {
		p.pending = append([]byte(nil), b...)
	}
}

func (p *outputPipe) write(b []byte) {
	drain.w.Lock()
	p.w.Write(b)
	drain.w.Unlock()
}
