package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// PipeSource writes one epoch of a Pipe-mode channel to w; an error from
// w (the reader closed the FIFO early) ends the epoch and is not
// reported.
type PipeSource func(ctx context.Context, epoch int, w io.Writer) error

// feedPipe serves the FIFOs <dir>/<channel>_<epoch> as SageMaker's Pipe
// mode does, until ctx ends: it makes the epoch's FIFO, waits for a
// reader, writes the epoch, closes it (the reader sees EOF) and removes
// it, then makes the next.
func (e *Engine) feedPipe(ctx context.Context, dir, channel string, src PipeSource) {
	for epoch := 0; ctx.Err() == nil; epoch++ {
		path := filepath.Join(dir, fmt.Sprintf("%s_%d", channel, epoch))
		if err := e.feedEpoch(ctx, path, epoch, src); err != nil {
			if ctx.Err() == nil {
				e.log.Warn("feeding a Pipe mode channel", "channel", channel, "epoch", epoch, "err", err)
			}
			return
		}
	}
}

func (e *Engine) feedEpoch(ctx context.Context, path string, epoch int, src PipeSource) error {
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		return fmt.Errorf("making %s: %w", path, err)
	}
	defer os.Remove(path)
	// Whatever the umask, a program running as another user reads it.
	if err := os.Chmod(path, 0o666); err != nil {
		return fmt.Errorf("making %s: %w", path, err)
	}
	f, err := openPipeWriter(ctx, path)
	if err != nil {
		return err
	}
	// Closing the file ends a write blocked on a reader that stopped
	// reading, once ctx ends.
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	err = src(ctx, epoch, f)
	if cerr := f.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, syscall.EPIPE):
		// The reader closed the FIFO before the end of the epoch.
		return nil
	}
	return err
}

// openPipeWriter opens the FIFO for writing once a reader has opened it,
// polling (a non-blocking open fails with ENXIO until then), so that ctx
// can end the wait.
func openPipeWriter(ctx context.Context, path string) (*os.File, error) {
	wait := time.Millisecond
	for {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err == nil {
			// A non-blocking descriptor goes through the runtime poller:
			// writes wait for the reader without holding a thread.
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, syscall.ENXIO) {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
