package platform

import (
	"context"
	"fmt"
	"io"
)

// FollowLogs copies the container's stdout and stderr, from its start, to
// stdout and stderr as they are written, until the container exits or ctx
// ends. SageMaker sends the same streams to CloudWatch Logs.
func (c *Container) FollowLogs(ctx context.Context, stdout, stderr io.Writer) error {
	if err := c.e.b.Logs(ctx, c.ID, true, stdout, stderr); err != nil && ctx.Err() == nil {
		return fmt.Errorf("following logs: %w", err)
	}
	return nil
}
