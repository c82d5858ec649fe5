package tcbackend_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/backendtest"
	"github.com/sagekit/sagekit/platform/tcbackend"
	"github.com/sagekit/sagekit/sdk/optml"
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

// TestEngineOnTestcontainers runs a two-host training and an endpoint
// through the platform's engine on this backend.
func TestEngineOnTestcontainers(t *testing.T) {
	dc := testenv.Docker(t)
	img := backendtest.FixtureImage(t, dc)
	b, err := tcbackend.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run := fmt.Sprintf("%s-%d", t.Name(), os.Getpid())
	e, err := platform.New(t.Context(), platform.WithBackend(b), platform.WithLabels(map[string]string{backendtest.Label: run}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n, err := e.Sweep(context.Background(), backendtest.Label, run); n > 0 || err != nil {
			t.Errorf("the engine left %d containers and networks (%v)", n, err)
		}
	})
	ctx := t.Context()
	tr, err := e.Train(ctx, platform.TrainingJob{Image: img, Hosts: 2, Layout: optml.Layout{Hyperparameters: optml.Hyperparameters{"epochs": "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	for _, h := range tr.Hosts {
		peer := map[string]string{"algo-1": "algo-2", "algo-2": "algo-1"}[h.Host]
		if h.StartErr != nil || h.ExitCode != 0 || !strings.Contains(string(h.Logs), "resolved peer "+peer) {
			t.Fatalf("%s: start error %v, exit %d, want 0 after resolving %s; logs:\n%s", h.Host, h.StartErr, h.ExitCode, peer, h.Logs)
		}
	}
	ep, err := e.Serve(ctx, platform.EndpointSpec{Image: img, ModelDir: tr.Hosts[0].Paths.Model()})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Remove(ctx)
	if health := ep.WaitHealthy(ctx, 30*time.Second, 2*time.Second); !health.Healthy {
		logs, _ := ep.Logs(ctx)
		t.Fatalf("not healthy: %+v\n%s", health, logs)
	}
	resp, err := http.Post(ep.URL+"/invocations", "text/csv", strings.NewReader("1,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "1\n" {
		t.Errorf("invocations = %d %q, want 200 \"1\\n\"", resp.StatusCode, body)
	}
	if st, err := ep.Stop(ctx, 10*time.Second); err != nil || st.Killed || st.ExitCode != 0 {
		t.Errorf("Stop = %+v, %v; want a clean exit after SIGTERM", st, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
