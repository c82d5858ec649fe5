package tcbackend_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/backendtest"
	"github.com/sagekit/sagekit/platform/tcbackend"
)

// TestMain turns testcontainers' reaper off unless the environment has
// decided: it runs the testcontainers/ryuk image, which an offline
// machine cannot pull. The setting is process-wide, so it belongs to the
// test process, never to the library; what a failed test leaves carries
// the contract's label and is removed by its cleanup.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

func TestContract(t *testing.T) {
	dc := testenv.Docker(t)
	img := backendtest.FixtureImage(t, dc)
	backendtest.Run(t, func(t *testing.T) platform.Backend {
		b, err := tcbackend.New(t.Context(), tcbackend.WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}, backendtest.Options{Image: img})
}

// TestLoggerPerRequest: what testcontainers reports about a request goes
// to the backend's logger.
func TestLoggerPerRequest(t *testing.T) {
	dc := testenv.Docker(t)
	img := backendtest.FixtureImage(t, dc)
	var buf testenv.SyncBuffer
	b, err := tcbackend.New(t.Context(), tcbackend.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id, err := b.Create(t.Context(), platform.ContainerSpec{Image: img, Cmd: []string{"evaluate"}, Labels: map[string]string{backendtest.Label: t.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Remove(t.Context(), id)
	if got := buf.String(); !strings.Contains(got, "Creating container for image "+img) || !strings.Contains(got, "component=testcontainers") {
		t.Errorf("logger got %q, want testcontainers' report of the create", got)
	}
}

// TestPublishesOnlySpecPorts: testcontainers publishes every port an
// image exposes when a request names none; the backend publishes the
// spec's ports only, on the publish address.
func TestPublishesOnlySpecPorts(t *testing.T) {
	dc := testenv.Docker(t)
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	img, err := fixtures.Fixture{}.Image(bin, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	const ref = "sagekit-backendtest:exposes"
	if _, err := daemon.Write(name.MustParseReference(ref).(name.Tag), img, daemon.WithClient(dc), daemon.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{}) })
	b, err := tcbackend.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		name  string
		ports []string
		want  string
	}{
		{"none", nil, "map[]"},
		{"one", []string{"8080/tcp"}, "map[8080/tcp:[{127.0.0.1 0}]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := b.Create(t.Context(), platform.ContainerSpec{Image: ref, Cmd: []string{"serve"}, Ports: tc.ports,
				PublishIP: netip.MustParseAddr("127.0.0.1"), Labels: map[string]string{backendtest.Label: t.Name()}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Remove(context.WithoutCancel(t.Context()), id)
			ins, err := dc.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ins.Container.HostConfig.PortBindings); got != tc.want {
				t.Errorf("port bindings = %s, want %s", got, tc.want)
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
