package platform_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/platform"
)

// cancelAfter is a transport that lets a create request reach the Engine,
// then cancels the caller's context before the answer is read: the moment
// a Ctrl-C lands in, after the Engine has made the container or network.
type cancelAfter struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/containers/create") || strings.HasSuffix(r.URL.Path, "/networks/create")) {
		c.cancel()
		if err := r.Context().Err(); err != nil {
			// The request belonged to the cancelled call: its answer is
			// lost, as when the client goes away mid-request.
			if resp != nil {
				resp.Body.Close()
			}
			return nil, err
		}
	}
	return resp, err
}

// TestCreateInterruptedLeavesNothing: a create whose caller is cancelled
// while the Engine makes the container (or network) reports the
// cancellation and leaves nothing behind for a sweep to miss.
func TestCreateInterruptedLeavesNothing(t *testing.T) {
	e, _ := newEngine(t)
	img := goodImage(t, e)
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		t.Skipf("skipped: DOCKER_HOST=%s is not a Unix socket", h)
	}
	sock := strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if sock == "" {
		sock = "/var/run/docker.sock"
	}
	label := "dev.sagekit.test.cancel"
	value := randomSuffix()
	for _, tt := range []struct {
		name   string
		create func(b *platform.DockerBackend, ctx context.Context) error
	}{
		{"container", func(b *platform.DockerBackend, ctx context.Context) error {
			_, err := b.Create(ctx, platform.ContainerSpec{Image: img, Cmd: []string{"train"}, Labels: map[string]string{label: value}})
			return err
		}},
		{"network", func(b *platform.DockerBackend, ctx context.Context) error {
			_, err := b.CreateNetwork(ctx, platform.NetworkSpec{Labels: map[string]string{label: value}})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}
			dc, err := client.New(client.FromEnv, client.WithHTTPClient(&http.Client{Transport: cancelAfter{next: tr, cancel: cancel}}))
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Close()
			b := platform.NewDockerBackend(dc, nil)
			if err := tt.create(b, ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("create = %v, want context.Canceled", err)
			}
			left, err := platform.NewDockerBackend(e.Client(), nil).List(context.Background(), label, value)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("left behind after the interrupted create: %v", left)
				for _, r := range left {
					e.Client().ContainerRemove(context.Background(), r.ID, client.ContainerRemoveOptions{Force: true})
					e.Client().NetworkRemove(context.Background(), r.ID, client.NetworkRemoveOptions{})
				}
			}
		})
	}
}
