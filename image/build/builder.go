package build

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/image/engineload"
)

// snapshotterLabel is the worker label of an Engine whose BuildKit uses the
// containerd image store; buildx reads it the same way.
const snapshotterLabel = "org.mobyproject.buildkit.worker.snapshotter"

// features is what the connected builder can do beyond loading an image.
type features struct {
	// cacheExport: the builder exports cache (type=local, registry).
	cacheExport bool
	// oldFrontend: BuildKit before v0.11 (no Info call), whose built-in
	// Dockerfile frontend has no heredocs or COPY --link.
	oldFrontend bool
}

// connect returns a BuildKit client: the Engine's own BuildKit when addr is
// empty, else the standalone buildkitd at addr.
func connect(ctx context.Context, dc *client.Client, addr string) (*bkclient.Client, features, error) {
	if addr != "" {
		if !strings.HasPrefix(addr, "unix://") && !strings.HasPrefix(addr, "tcp://") {
			return nil, features{}, fmt.Errorf("--builder %s: use unix:///path/to/buildkitd.sock or tcp://host:port", addr)
		}
		c, err := bkclient.New(ctx, addr)
		if err != nil {
			return nil, features{}, fmt.Errorf("connecting to buildkitd at %s: %w", addr, err)
		}
		if _, err := c.ListWorkers(ctx); err != nil {
			c.Close()
			return nil, features{}, fmt.Errorf("buildkitd at %s is not answering: start it or fix --builder: %w", addr, err)
		}
		return c, features{cacheExport: true}, nil
	}
	// As buildx's docker driver: gRPC over the Engine's /grpc endpoint
	// (upgraded to h2c) and the build session over /session.
	c, err := bkclient.New(ctx, "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return dc.DialHijack(ctx, "/grpc", "h2c", map[string][]string{})
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return dc.DialHijack(ctx, "/session", proto, meta)
		}),
	)
	if err != nil {
		return nil, features{}, fmt.Errorf("connecting to the Docker Engine's BuildKit: %w", err)
	}
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		c.Close()
		return nil, features{}, fmt.Errorf("%w: the Docker Engine at %s offers no BuildKit over /grpc (Podman and very old engines do not): use --builder with a standalone buildkitd: %v", ErrUnsupported, dc.DaemonHost(), err)
	}
	var f features
	for _, w := range workers {
		if _, ok := w.Labels[snapshotterLabel]; ok {
			f.cacheExport = true
		}
	}
	if _, err := c.Info(ctx); err != nil && strings.Contains(err.Error(), "Unimplemented") {
		f.oldFrontend = true
	}
	return c, f, nil
}

// loadImage streams a `docker save` tar into the Engine and reports an
// error the load stream carries.
func loadImage(ctx context.Context, dc *client.Client, r io.Reader) error {
	resp, err := dc.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("loading the image into the Docker Engine: %w", err)
	}
	defer resp.Close()
	return loadStreamError(resp)
}

// loadStreamError returns the first error in the Engine's answer to a load.
func loadStreamError(r io.Reader) error {
	if err := engineload.StreamError(r); err != nil {
		return fmt.Errorf("loading the image into the Docker Engine: %w", err)
	}
	return nil
}

func stringReader(s string) io.Reader { return strings.NewReader(s) }

// notFound reports whether the Engine holds no image named ref, for telling
// a missing image from another inspect failure.
func notFound(ctx context.Context, dc *client.Client, ref string) bool {
	res, err := dc.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ref)})
	return err == nil && len(res.Items) == 0
}

// group runs functions and returns the first error, cancelling the
// others' context when one fails.
type group struct {
	wg     sync.WaitGroup
	once   sync.Once
	err    error
	cancel context.CancelFunc
}

func newGroup(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

func (g *group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

// CheckBuilder connects to the builder a build would use (the Engine's
// BuildKit when addr is empty) and says what it found, for sagekit doctor.
func CheckBuilder(ctx context.Context, dc *client.Client, addr string) (string, error) {
	c, f, err := connect(ctx, dc, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	what := "the Docker Engine's BuildKit"
	if addr != "" {
		what = "buildkitd at " + addr
	}
	if f.oldFrontend {
		what += " (before v0.11: no heredocs or COPY --link)"
	}
	return what, nil
}
