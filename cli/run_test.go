package cli

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
)

// execRun runs "sagekit run args..." as cli.Execute would and returns the
// exit code, stdout and stderr.
func execRun(ctx context.Context, stdout, stderr io.Writer, args ...string) int {
	root := NewRoot()
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(append([]string{"run"}, args...))
	if err := root.ExecuteContext(ctx); err != nil {
		return reportError(root, err)
	}
	return 0
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fixtureImage loads the conformance suite's good fixture under a tag of
// its own and removes it when t ends. A label of its own gives the image an
// ID no other test shares, so "ancestor=" filters see only this test's
// containers while other packages run the same fixture.
func fixtureImage(t *testing.T, dc *client.Client) string {
	t.Helper()
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	img, err := fixtures.Fixture{}.Image(bin, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config.DeepCopy()
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	id := randomID()
	cfg.Labels["dev.sagekit.test.image"] = id
	if img, err = mutate.Config(img, *cfg); err != nil {
		t.Fatal(err)
	}
	ref := "sagekit-cli-run-" + id + ":latest"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(t.Context())); err != nil {
		t.Fatalf("loading %s: %v", ref, err)
	}
	t.Cleanup(func() {
		if _, err := dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing %s: %v", ref, err)
		}
	})
	return ref
}

// testLabelFlag labels what a command creates; at the end of t nothing may
// carry the label.
func testLabelFlag(t *testing.T, dc *client.Client) string {
	t.Helper()
	v := randomID()
	t.Cleanup(func() {
		f := make(client.Filters).Add("label", "dev.sagekit.test="+v)
		cs, err := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		ns, err := dc.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Items)+len(ns.Items) > 0 {
			t.Errorf("left behind %d containers and %d networks", len(cs.Items), len(ns.Items))
		}
	})
	return "--label=dev.sagekit.test=" + v
}

// tarGzFiles reads every regular file of a gzip tar.
func tarGzFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

func TestRunTrain(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "a.csv"), []byte("1,2\n3,4\n5,6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hpFile := filepath.Join(t.TempDir(), "hp.json")
	if err := os.WriteFile(hpFile, []byte(`{"epochs": 2, "lr": "0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("completes", func(t *testing.T) {
		out := t.TempDir()
		var stdout, stderr testenv.SyncBuffer
		code := execRun(t.Context(), &stdout, &stderr, "train", img, testLabelFlag(t, dc), "--data", "train="+data,
			"--hyperparameters", hpFile, "--hyperparameter", "epochs=3", "--output", out)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), "loss=0.42; epochs=3") {
			t.Errorf("stdout does not show the container's logs:\n%s", stdout.String())
		}
		model := tarGzFiles(t, filepath.Join(out, "model.tar.gz"))
		names := make([]string, 0, len(model))
		for n := range model {
			names = append(names, n)
		}
		sort.Strings(names)
		if diff := cmp.Diff([]string{"model.json"}, names); diff != "" {
			t.Fatalf("model.tar.gz entries (-want +got):\n%s", diff)
		}
		var m struct{ Epochs, Rows int }
		if err := json.Unmarshal([]byte(model["model.json"]), &m); err != nil || m.Epochs != 3 || m.Rows != 3 {
			t.Errorf("model.json = %s, want epochs 3 (--hyperparameter wins over the file) and rows 3 (the train channel)", model["model.json"])
		}
		if _, err := os.Stat(filepath.Join(out, "output.tar.gz")); err != nil {
			t.Errorf("output.tar.gz: %v", err)
		}
		if _, err := os.Stat(filepath.Join(out, "failure")); !os.IsNotExist(err) {
			t.Errorf("a failure file was written for a job that completed (%v)", err)
		}
	})

	t.Run("fails", func(t *testing.T) {
		out := t.TempDir()
		var stdout, stderr testenv.SyncBuffer
		code := execRun(t.Context(), &stdout, &stderr, "train", img, testLabelFlag(t, dc), "--hyperparameter", "epochs=ten", "--output", out)
		const reason = `hyperparameter epochs: "ten" is not an integer`
		if code != 1 || !strings.Contains(stderr.String(), "failed: algo-1: "+reason) {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and the failure reason", code, stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(out, "failure"))
		if err != nil || strings.TrimSpace(string(b)) != reason {
			t.Errorf("failure file = %q, %v; want %q", b, err, reason)
		}
	})
}

func TestRunEndpoint(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	modelDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(modelDir, "model.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := platform.PackDirs(model, modelDir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testenv.SyncBuffer
	code := make(chan int, 1)
	label := testLabelFlag(t, dc)
	go func() {
		code <- execRun(ctx, &stdout, &stderr, "endpoint", img, label, "--model", model, "--port", "0")
	}()
	urlRE := regexp.MustCompile(`serving at (http://\S+)`)
	var url string
	for deadline := time.Now().Add(time.Minute); url == "" && time.Now().Before(deadline); {
		select {
		case c := <-code:
			t.Fatalf("exited %d before serving\nstderr:\n%s", c, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no URL printed\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	for _, want := range []string{"waiting for GET /ping to answer 200 every=200ms", "starting the endpoint container"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not show %q while waiting:\n%s", want, stderr.String())
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("serving at %s, want 127.0.0.1 by default", url)
	}
	// The container's own port is published on the loopback address only.
	// Other tests run the same image at the same time: find this run's
	// container by its label.
	own := make(client.Filters).Add("label", strings.TrimPrefix(label, "--label="))
	cs, err := dc.ContainerList(ctx, client.ContainerListOptions{Filters: own})
	if err != nil || len(cs.Items) != 1 {
		t.Fatalf("listing the endpoint container: %v (%d found)", err, len(cs.Items))
	}
	for _, p := range cs.Items[0].Ports {
		if p.IP.String() != "127.0.0.1" {
			t.Errorf("port %d published on %s, want 127.0.0.1 only", p.PrivatePort, p.IP)
		}
	}
	resp, err := http.Post(url+"/invocations", "text/csv", strings.NewReader("1,2\n3,4\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "1\n1\n" {
		t.Errorf("POST /invocations = %d %q, want 200 \"1\\n1\\n\"", resp.StatusCode, body)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 || !strings.Contains(stderr.String(), "stopped after") {
			t.Errorf("exit %d after Ctrl-C, want 0 and a clean stop\nstderr:\n%s", c, stderr.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the endpoint did not stop within 45s of Ctrl-C")
	}
}

// TestExtractLimits: a flag wins over its variable, 0 removes a bound, and
// the variables alone set the limits.
func TestExtractLimits(t *testing.T) {
	t.Setenv("SAGEKIT_MAX_EXTRACT_BYTES", "1GiB")
	t.Setenv("SAGEKIT_MAX_EXTRACT_ENTRIES", "10")
	l, err := extractFlags{maxBytes: "80GiB", maxRatio: "0"}.limits()
	if want := (platform.ExtractLimits{Bytes: 80 << 30, Entries: 10, Ratio: -1}); err != nil || l != want {
		t.Errorf("limits() = %+v, %v; want %+v", l, err, want)
	}
	t.Setenv("SAGEKIT_MAX_EXTRACT_ENTRIES", "many")
	if _, err := (extractFlags{}).limits(); err == nil || !strings.Contains(err.Error(), "SAGEKIT_MAX_EXTRACT_ENTRIES") {
		t.Errorf("limits() with a bad variable = %v, want it named", err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	in := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"train without image", []string{"train"}, "accepts 1 arg"},
		{"train bad data", []string{"train", "img", "--data", "train"}, "want CHANNEL=DIR"},
		{"train bad hyperparameter", []string{"train", "img", "--hyperparameter", "epochs"}, "want KEY=VALUE"},
		{"train bad env", []string{"train", "img", "--env", "1X=2"}, "want NAME=VALUE"},
		{"train hosts", []string{"train", "img", "--hosts", "0"}, "--hosts 0"},
		{"train channel name", []string{"train", "img", "--data", "a b=" + in}, `channel "a b": use letters, digits`},
		{"endpoint without model", []string{"endpoint", "img"}, "--model is required"},
		{"transform split type", []string{"transform", "img", "--model", in, "--input", in, "--output", in, "--split-type", "RecordIO"}, `split type "RecordIO" is not supported`},
		{"transform payload", []string{"transform", "img", "--model", in, "--input", in, "--output", in, "--max-payload-mb", "101"}, "MaxPayloadInMB 101 is over the limit of 100"},
		{"transform product", []string{"transform", "img", "--model", in, "--input", in, "--output", in, "--max-payload-mb", "20", "--max-concurrent", "6"}, "6 × 20 = 120 is over 100"},
		{"transform strategy", []string{"transform", "img", "--model", in, "--input", in, "--output", in, "--strategy", "Batch"}, "want SingleRecord or MultiRecord"},
		{"transform retries", []string{"transform", "img", "--model", in, "--input", in, "--output", in, "--max-retries", "4"}, "use 0 to 3"},
		{"transform model missing", []string{"transform", "img", "--model", filepath.Join(in, "nope"), "--input", in, "--output", in}, "--model"},
		{"transform extract limit", []string{"transform", "img", "--model", in, "--input", in, "--output", in, "--max-extract-bytes", "lots"}, `--max-extract-bytes "lots": want a non-negative number of bytes`},
		{"endpoint extract limit", []string{"endpoint", "img", "--model", in, "--port", "0", "--max-extract-ratio", "-2"}, `--max-extract-ratio "-2": want a non-negative integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr testenv.SyncBuffer
			code := execRun(t.Context(), &stdout, &stderr, tt.args...)
			if code == 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("sagekit run %v: exit %d, stderr %q; want an error mentioning %q", tt.args, code, stderr.String(), tt.want)
			}
			if tt.name != "transform model missing" && code != ExitUsage {
				t.Errorf("sagekit run %v: exit %d, want %d (usage)", tt.args, code, ExitUsage)
			}
		})
	}
}

func TestRunTransform(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	in, out := t.TempDir(), t.TempDir()
	for name, c := range map[string]string{"a.csv": "1,2\n3,4\n5,6\n", "b.csv": "7,8\n"} {
		if err := os.WriteFile(filepath.Join(in, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr testenv.SyncBuffer
	code := execRun(t.Context(), &stdout, &stderr, "transform", img, testLabelFlag(t, dc), "--model", t.TempDir(),
		"--input", in, "--output", out, "--split-type", "Line", "--content-type", "text/csv")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	// The fixture answers one "1" per CSV row and proposes
	// MaxConcurrentTransforms 4 on /execution-parameters.
	for name, want := range map[string]string{"a.csv.out": "1\n1\n1\n", "b.csv.out": "1\n"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if want := "BatchStrategy MultiRecord, MaxPayloadInMB 6, MaxConcurrentTransforms 4"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
	}
	if want := "ok   a.csv -> " + filepath.Join(out, "a.csv.out") + " (3 records, 1 request)"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout does not say %q:\n%s", want, stdout.String())
	}
}

// TestRunMissingImage: an image that is not in the engine is reported with
// the command that builds it; nothing is pulled without --pull.
func TestRunMissingImage(t *testing.T) {
	testenv.Docker(t)
	img := "sagekit-no-such-image-" + randomID() + ":v1"
	model := t.TempDir()
	in, out := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"train", img, "-o", t.TempDir()},
		{"endpoint", img, "--model", model, "--port", "0"},
		{"transform", img, "--model", model, "--input", in, "--output", out},
	} {
		t.Run(args[0], func(t *testing.T) {
			var stdout, stderr testenv.SyncBuffer
			// A run that serves would never end: the timeout makes it fail.
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			code := execRun(ctx, &stdout, &stderr, args...)
			want := "image " + img + " is not in the Docker Engine: build it with `sagekit build -t " + img
			if code != 1 || !strings.Contains(stderr.String(), want) || strings.Contains(stderr.String(), "registry-1.docker.io") {
				t.Errorf("run %v = %d, stderr %q; want 1 and %q", args, code, stderr.String(), want)
			}
		})
	}
}

// TestRunEndpointFails: a container that never answers /ping, and a
// model.tar.gz over a limit, end the run with exit 1 and a message that
// says why; nothing is left behind.
func TestRunEndpointFails(t *testing.T) {
	dc := testenv.Docker(t)
	modelDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(modelDir, "model.json"), []byte(`{"weights": [1, 2, 3]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := platform.PackDirs(model, modelDir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		image string
		args  []string
		want  string
	}{
		{"exits", sleeperImage(t, dc), []string{"--startup-timeout", "1m"}, " did not become healthy: the container exited with code 1"},
		{"archive limit", fixtureImage(t, dc), []string{"--max-extract-bytes", "10"}, "unpacks to more than 10 bytes (raise the limit with --max-extract-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr testenv.SyncBuffer
			args := append([]string{"endpoint", tt.image, testLabelFlag(t, dc), "--model", model, "--port", "0"}, tt.args...)
			// A run that serves would never end: the timeout makes it fail.
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			code := execRun(ctx, &stdout, &stderr, args...)
			if code != 1 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run %v = %d, stderr:\n%s\nwant 1 and %q", args, code, stderr.String(), tt.want)
			}
			if strings.Contains(stdout.String(), "serving at") {
				t.Errorf("stdout = %q, want no URL", stdout.String())
			}
		})
	}
}
