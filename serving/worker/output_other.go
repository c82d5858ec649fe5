//go:build !linux

package worker

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
)

// Outside Linux (where images run) each worker stream gets its own reader,
// which passes whole lines on as they come.

// readEnd is the read end of a worker's output pipe.
type readEnd struct{ f *os.File }

func (r readEnd) close() { r.f.Close() }

var outputMu sync.Mutex // keeps lines whole across workers

func newOutputPipe() (readEnd, *os.File, error) {
	r, w, err := os.Pipe()
	return readEnd{r}, w, err
}

// wakeOutput does nothing here: every stream has its own reader.
func wakeOutput() {}

func follow(r readEnd, w io.Writer, wg *sync.WaitGroup) {
	go func() {
		defer wg.Done()
		defer r.f.Close()
		br := bufio.NewReaderSize(r.f, 64<<10)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				outputMu.Lock()
				w.Write(line)
				outputMu.Unlock()
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return
			}
		}
	}()
}
