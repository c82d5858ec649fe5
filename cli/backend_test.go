package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/testenv"
)

func TestContainerBackendFromEnv(t *testing.T) {
	tests := []struct {
		val     string
		want    containerBackend
		wantErr bool
	}{
		{"", backendDocker, false},
		{"docker", backendDocker, false},
		{"testcontainers", backendTestcontainers, false},
		{"Docker", "", true},
		{"podman", "", true},
	}
	for _, tt := range tests {
		got, err := containerBackendFromEnv(func(k string) string {
			if k != envContainerBackend {
				t.Errorf("read %s, want only %s", k, envContainerBackend)
			}
			return tt.val
		})
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("containerBackendFromEnv(%q) = %q, %v; want %q, error %t", tt.val, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestContainerBackendBadValue: every command that runs containers refuses
// a value it does not know, as a usage error naming the allowed values,
// before it reaches the engine.
func TestContainerBackendBadValue(t *testing.T) {
	t.Setenv(envContainerBackend, "podman")
	in := t.TempDir()
	for _, args := range [][]string{
		{"run", "train", "img", "--output", in},
		{"run", "endpoint", "img", "--model", in, "--port", "0"},
		{"run", "transform", "img", "--model", in, "--input", in, "--output", in},
		{"local", "--listen", "127.0.0.1:0", "--state", in},
		{"test", "img"},
		{"evaluate", "img", "--data", "training=" + in, "--label", "y"},
	} {
		var stdout, stderr testenv.SyncBuffer
		code := execute(t.Context(), args, &stdout, &stderr)
		const want = `SAGEKIT_CONTAINER_BACKEND="podman": want docker or testcontainers`
		if code != ExitUsage || !strings.Contains(stderr.String(), want) {
			t.Errorf("sagekit %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), code, stderr.String(), ExitUsage, want)
		}
	}
}

// TestRunTrainTestcontainers: with SAGEKIT_CONTAINER_BACKEND=testcontainers
// a training job runs to its end with its containers made by
// testcontainers-go (they carry its labels), and leaves nothing behind.
func TestRunTrainTestcontainers(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	t.Setenv(envContainerBackend, string(backendTestcontainers))
	// Ryuk's image cannot be pulled offline; what the run makes is removed
	// by its own sweep.
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	label := testLabelFlag(t, dc)
	since := time.Now()
	out := t.TempDir()
	var stdout, stderr testenv.SyncBuffer
	code := execRun(t.Context(), &stdout, &stderr, "train", img, label, "--hyperparameter", "epochs=3", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "model.tar.gz")); err != nil {
		t.Errorf("model.tar.gz: %v", err)
	}
	created := createdContainers(t, dc, since, strings.TrimPrefix(label, "--label="))
	if len(created) == 0 {
		t.Fatal("no container was created with the run's label")
	}
	for _, labels := range created {
		if labels["org.testcontainers"] != "true" || labels["org.testcontainers.sessionId"] == "" {
			t.Errorf("container labels %v: want testcontainers' org.testcontainers=true and org.testcontainers.sessionId", labels)
		}
	}
}

// createdContainers returns the labels of each container created since
// then carrying label (k=v), from the engine's events.
func createdContainers(t *testing.T, dc *client.Client, since time.Time, label string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	f := make(client.Filters).Add("type", string(events.ContainerEventType)).Add("event", string(events.ActionCreate)).Add("label", label)
	res := dc.Events(ctx, client.EventsListOptions{Since: since.Add(-time.Second).Format(time.RFC3339Nano), Until: time.Now().Add(time.Second).Format(time.RFC3339Nano), Filters: f})
	var got []map[string]string
	for {
		select {
		case m := <-res.Messages:
			got = append(got, m.Actor.Attributes)
		case err := <-res.Err:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("reading the engine's events: %v", err)
			}
			return got
		}
	}
}
