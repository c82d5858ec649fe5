package cli

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/owner"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
)

// TestKilledRunIsReaped: `sagekit run endpoint` killed with SIGKILL cannot
// remove its container and its state directory; the next command that
// creates containers removes both before it starts its own, and leaves a
// live run's containers alone.
func TestKilledRunIsReaped(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	bin := testenv.Binary(t, "./cli/cmd/sagekit", runtime.GOARCH)
	modelDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(modelDir, "model.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := platform.PackDirs(model, modelDir); err != nil {
		t.Fatal(err)
	}
	label := testLabelFlag(t, dc)
	value := strings.TrimPrefix(label, "--label=dev.sagekit.test=")
	list := func() []string {
		t.Helper()
		f := make(client.Filters).Add("label", "dev.sagekit.test="+value)
		cs, err := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range cs.Items {
			if c.Labels[owner.LabelPID] == "" || c.Labels[owner.LabelStart] == "" {
				t.Errorf("container %.12s has no owner labels: %v", c.ID, c.Labels)
			}
			ids = append(ids, c.ID)
		}
		return ids
	}

	// The run's state directory goes to a temporary directory of the
	// test's, where what the killed run leaves can be seen.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	leftDirs := func() []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(tmp, "sagekit-endpoint-*"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	cmd := exec.Command(bin, "run", "endpoint", img, label, "--model", model, "--port", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	serving := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving at ") {
				close(serving)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-serving:
	case <-time.After(2 * time.Minute):
		t.Fatal("sagekit run endpoint never printed its URL")
	}
	// A live run's container: the reaper must not touch it.
	live := list()
	if len(live) != 1 {
		t.Fatalf("containers of the running endpoint: %v, want one", live)
	}
	e, err := platform.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if got := list(); len(got) != 1 {
		t.Fatalf("the reaper removed a live run's container: %v left", got)
	}

	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if got := list(); len(got) != 1 {
		t.Fatalf("after SIGKILL: %v, want the container left behind", got)
	}
	if got := leftDirs(); len(got) != 1 {
		t.Fatalf("after SIGKILL: state directories %v, want the killed run's one left behind", got)
	}
	// The next command: a training run (it fails at once on its
	// hyperparameter) removes it before starting its own container.
	var out, errOut testenv.SyncBuffer
	execRun(t.Context(), &out, &errOut, "train", img, "--hyperparameter", "epochs=ten", "--output", t.TempDir())
	if got := list(); len(got) != 0 {
		t.Errorf("after the next command: %v still there, want the killed run's container removed", got)
	}
	if got := leftDirs(); len(got) != 0 {
		t.Errorf("after the next command: %v still there, want the killed run's state directory removed", got)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("sagekit: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
