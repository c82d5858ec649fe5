package launch

import (
	"context"
	"fmt"
	"time"
)

// Resolver looks up host names; *net.Resolver implements it.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// DefaultHostWait is how long the launcher waits for every host of a
// multi-host job to resolve, as the toolkit does: peers' DNS names may
// appear only after the containers start.
const DefaultHostWait = 15 * time.Minute

// waitForHosts resolves every host, retrying each with exponential backoff
// (100 ms doubling, at most 30 s between tries) until limit has passed.
func waitForHosts(ctx context.Context, r Resolver, hosts []string, limit time.Duration, stop <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, h := range hosts {
		delay := 100 * time.Millisecond
		for {
			_, err := r.LookupHost(ctx, h)
			if err == nil {
				break
			}
			timer := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("resolving host %q: gave up after %s: %w", h, limit, err)
			case <-stop:
				timer.Stop()
				return fmt.Errorf("resolving host %q: stopped before it resolved: %w", h, err)
			case <-timer.C:
			}
			if delay *= 2; delay > 30*time.Second {
				delay = 30 * time.Second
			}
		}
	}
	return nil
}
