package platform

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// FollowLogs copies the container's stdout and stderr, from its start, to
// stdout and stderr as they are written, until the container exits or ctx
// ends. SageMaker sends the same streams to CloudWatch Logs.
func (c *Container) FollowLogs(ctx context.Context, stdout, stderr io.Writer) error {
	rc, err := c.e.dc.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return fmt.Errorf("following logs: %w", err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		return fmt.Errorf("following logs: %w", err)
	}
	return nil
}
