package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultStopSilent is TrainingJob.StopSilent's default.
const DefaultStopSilent = 5 * time.Second

// FollowLogs copies the container's stdout and stderr, from its start, to
// stdout and stderr as they are written, until the container exits or ctx
// ends. SageMaker sends the same streams to CloudWatch Logs.
func (c *Container) FollowLogs(ctx context.Context, stdout, stderr io.Writer) error {
	if err := c.e.b.Logs(ctx, c.ID, true, stdout, stderr); err != nil && ctx.Err() == nil {
		return fmt.Errorf("following logs: %w", err)
	}
	return nil
}

// afterOutput returns a channel closed d after the container first writes
// to stdout or stderr, or silent after its start when it has written
// nothing by then (also when its logs cannot be read). It closes nothing
// once ctx ends.
func (c *Container) afterOutput(ctx context.Context, d, silent time.Duration) <-chan struct{} {
	heard := make(chan struct{})
	go func() {
		// The first byte ends the stream: the rest is not needed.
		w := &firstByte{heard: heard}
		c.e.b.Logs(ctx, c.ID, true, w, w)
	}()
	now := make(chan struct{})
	go func() {
		quiet := time.NewTimer(max(time.Until(c.Started.Add(silent)), 0))
		defer quiet.Stop()
		select {
		case <-heard:
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		case <-quiet.C:
		case <-ctx.Done():
			return
		}
		close(now)
	}()
	return now
}

// errHeard stops the copy of logs at the first byte.
var errHeard = errors.New("output seen")

// firstByte closes heard at the first byte written to it.
type firstByte struct {
	once  sync.Once
	heard chan struct{}
}

func (w *firstByte) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	w.once.Do(func() { close(w.heard) })
	return 0, errHeard
}
