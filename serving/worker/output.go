package worker

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
)

// outputMu keeps the lines of concurrent workers whole.
var outputMu sync.Mutex

// copyLines copies r to w a line at a time (very long lines in 64 KiB
// pieces), so lines from different workers never interleave.
func copyLines(w io.Writer, r *os.File, wg *sync.WaitGroup) {
	defer wg.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
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
}
