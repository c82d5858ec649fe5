package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
)

// execCLI runs sagekit with args as main does, and returns the exit code,
// stdout and stderr.
func execCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown subcommand", []string{"run", "trian"}, []string{`unknown command "trian" for "sagekit run"`, "Did you mean this?\n\ttrain"}},
		{"unknown subcommand of a runnable command", []string{"sdk", "downlaod"}, []string{`unknown command "downlaod" for "sagekit sdk"`, "Did you mean this?\n\tdownload"}},
		{"unknown command", []string{"biuld"}, []string{`unknown command "biuld"`, "Did you mean this?\n\tbuild"}},
		{"unknown flag", []string{"build", "--pussh", "x"}, []string{"unknown flag: --pussh", "Did you mean this?\n\t--push"}},
		{"too many args", []string{"version", "extra"}, []string{"unknown command", "sagekit version --help"}},
		{"missing arg", []string{"test"}, []string{"accepts 1 arg"}},
		{"required flag", []string{"run", "endpoint", "img"}, []string{"--model is required"}},
		{"required flag of transform", []string{"run", "transform", "img", "--input", "in", "--output", "out"}, []string{`required flag(s) "model" not set`}},
		{"bad flag value", []string{"run", "train", "img", "--hosts", "x"}, []string{`invalid argument "x" for "--hosts"`}},
		{"bad option", []string{"run", "train", "img", "--data", "nodir"}, []string{"want CHANNEL=DIR"}},
		{"bad progress", []string{"push", "img", "example.com/a:b", "--progress", "json"}, []string{"--progress json: use auto, plain, tty, rawjson, quiet"}},
		{"two reports on stdout", []string{"test", "img", "--json", "-", "--junit", "-"}, []string{"only one of --junit, --json and --html"}},
		{"two evaluate reports on stdout", []string{"evaluate", "img", "--data", "x.csv", "--label", "0", "--json", "-", "--html", "-"}, []string{"only one of --json and --html"}},
		{"bad evaluate option", []string{"evaluate", "img", "--data", "x.csv", "--label", "0", "--folds", "3", "--holdout", "0.2"}, []string{"--folds and --holdout: give one"}},
		{"push flag without push", []string{"build", ".", "--region", "eu-west-1"}, []string{"--region applies to pushing"}},
		{"bad destination", []string{"build", ".", "--push", "Not A Ref"}, []string{"destination Not A Ref: want REGISTRY/REPO[:TAG]"}},
		{"no template", []string{"init", "x"}, []string{"no template: pass --template"}},
		{"template typo", []string{"init", "x", "--template", "pyhton"}, []string{`unknown template "pyhton": did you mean python?`}},
		{"bad listen", []string{"run", "endpoint", "img", "--model", ".", "--listen", "everywhere"}, []string{"--listen everywhere"}},
		{"bad extract limit of local", []string{"local", "--listen", "127.0.0.1:0", "--max-extract-bytes", "lots"}, []string{`--max-extract-bytes "lots": want a non-negative number of bytes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := execCLI(t, tt.args...)
			if code != ExitUsage {
				t.Errorf("sagekit %v exited %d, want %d\nstderr: %s", tt.args, code, ExitUsage, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("sagekit %v stderr = %q, want it to contain %q", tt.args, stderr, w)
				}
			}
		})
	}
}

// TestUnknownRuleIsUsage: a rule id that names no rule is a bad argument
// (exit 2), found before anything runs.
func TestUnknownRuleIsUsage(t *testing.T) {
	testenv.Docker(t)
	code, _, stderr := execCLI(t, "test", "no-such-image-sagekit", "--rules", "C-XX-01")
	if code != ExitUsage || !strings.Contains(stderr, `unknown rule "C-XX-01"`) {
		t.Errorf("exit %d, stderr %q; want 2 and the unknown rule", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := execCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "sagekit ") || !strings.Contains(out, "contract ") {
		t.Errorf("--version = %d %q", code, out)
	}
	code, out2, _ := execCLI(t, "version")
	if code != 0 || out2 != out {
		t.Errorf("version = %d %q, want what --version prints (%q)", code, out2, out)
	}
	code, out, _ = execCLI(t, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version == "" || v.Contract == "" || v.GoVersion != runtime.Version() {
		t.Errorf("version --json = %d %q (%v)", code, out, err)
	}
}

// walk calls f for every command under root.
func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, s := range c.Commands() {
		walk(s, f)
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	walk(NewRoot(), func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		if !strings.Contains(c.Example, "sagekit") {
			t.Errorf("%s: the example %q does not show a sagekit command line", c.CommandPath(), c.Example)
		}
	})
}

// TestProgressFlag: build, base, test, run and push share one --progress
// with the same values and help.
func TestProgressFlag(t *testing.T) {
	root := NewRoot()
	var usage string
	for _, path := range [][]string{{"build"}, {"base"}, {"test"}, {"push"}, {"run", "train"}, {"run", "endpoint"}, {"run", "transform"}, {"evaluate"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		f := c.Flags().Lookup("progress")
		if f == nil {
			t.Errorf("%s has no --progress", c.CommandPath())
			continue
		}
		if usage == "" {
			usage = f.Usage
		}
		if f.Usage != usage || f.DefValue != progressAuto {
			t.Errorf("%s --progress = %q (default %q), want %q (default auto)", c.CommandPath(), f.Usage, f.DefValue, usage)
		}
		code, out, _ := execCLI(t, append(append([]string{"__complete"}, path...), "--progress", "")...)
		if code != 0 || !strings.Contains(out, "rawjson\n") || !strings.Contains(out, "quiet\n") {
			t.Errorf("completing %s --progress = %d %q", c.CommandPath(), code, out)
		}
	}
	for _, m := range progressModes {
		if !strings.Contains(usage, m) {
			t.Errorf("--progress help %q does not name %s", usage, m)
		}
	}
}

func TestCompletion(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	complete := func(args ...string) []string {
		t.Helper()
		code, out, stderr := execCLI(t, append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("__complete %v exited %d: %s", args, code, stderr)
		}
		var vals []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				v, _, _ := strings.Cut(l, "\t")
				vals = append(vals, v)
			}
		}
		return vals
	}
	has := func(vals []string, want string) bool {
		for _, v := range vals {
			if v == want {
				return true
			}
		}
		return false
	}
	if got := complete("init", "x", "--template", ""); !has(got, "go") || !has(got, "python") || !has(got, "generic") {
		t.Errorf("templates = %v", got)
	}
	for _, cmd := range [][]string{{"test"}, {"run", "train"}, {"run", "endpoint"}, {"push"}} {
		prefix := img[:len(img)-3]
		if got := complete(append(cmd, prefix)...); !has(got, img) {
			t.Errorf("%v %s<TAB> = %v, want the local image %s", cmd, prefix, got, img)
		}
	}
	if got := complete("test", img, "--rules", "C-TR-0"); !has(got, "C-TR-01") || has(got, "C-IN-01") {
		t.Errorf("--rules C-TR-0<TAB> = %v", got)
	}
	if got := complete("test", img, "--skip", "C-IN-01,T-"); !has(got, "C-IN-01,T-IN") || !has(got, "C-IN-01,T-TR-01") {
		t.Errorf("--skip C-IN-01,T-<TAB> = %v", got)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "local", "input", "data", "training"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got := complete("run", "train", img, "--data", ""); !has(got, "training=local/input/data/training") || !has(got, "validation=") {
		t.Errorf("--data <TAB> = %v", got)
	}
}

// TestInterrupt sends SIGINT to a real sagekit process in the middle of
// test and of build: each exits 130 after cleaning up.
func TestInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT")
	}
	dc := testenv.Docker(t)
	bin := hostBinary(t)

	t.Run("test", func(t *testing.T) {
		img := fixtureImage(t, dc)
		cmd := exec.Command(bin, "test", img, "--rules", "C-TR", "--progress", "plain")
		code, stderr := interruptWhen(t, cmd, func(line string) bool { return strings.Contains(line, "train") && strings.Contains(line, "running") }, 2*time.Second)
		if code != ExitInterrupted || !strings.Contains(stderr, "interrupted") {
			t.Errorf("exit %d, want 130\nstderr:\n%s", code, stderr)
		}
		cs, err := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("ancestor", img)})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Items) > 0 {
			t.Errorf("%d containers of %s left after Ctrl-C", len(cs.Items), img)
		}
	})

	t.Run("build", func(t *testing.T) {
		// A builder that accepts the connection and never answers: the
		// build waits until Ctrl-C.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		connected := make(chan struct{})
		go func() {
			var once bool
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if !once {
					once = true
					close(connected)
				}
			}
		}()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY Dockerfile /\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "build", dir, "--via", "buildkit", "--builder", "tcp://"+ln.Addr().String(), "--progress", "plain")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-connected:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the build never reached the builder\nstderr:\n%s", stderr.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		code := waitCode(t, cmd, time.Minute)
		if code != ExitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("exit %d, want 130\nstderr:\n%s", code, stderr.String())
		}
	})
}

// hostBinary builds sagekit for this machine once per test process.
func hostBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("testenv builds linux binaries")
	}
	return testenv.Binary(t, "./cli/cmd/sagekit", runtime.GOARCH)
}

// interruptWhen starts cmd, sends SIGINT settle after a stderr line
// matches ready, and returns the exit code and stderr.
func interruptWhen(t *testing.T, cmd *exec.Cmd, ready func(string) bool, settle time.Duration) (int, string) {
	t.Helper()
	pr, pw := io.Pipe()
	var stderr testenv.SyncBuffer
	cmd.Stderr = io.MultiWriter(pw, &stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		closed := false
		for sc.Scan() {
			if !closed && ready(sc.Text()) {
				close(seen)
				closed = true
			}
		}
	}()
	select {
	case <-seen:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		pw.Close()
		t.Fatalf("never ready\nstderr:\n%s", stderr.String())
	}
	time.Sleep(settle)
	cmd.Process.Signal(syscall.SIGINT)
	code := waitCode(t, cmd, 2*time.Minute)
	pw.Close()
	return code, stderr.String()
}

func waitCode(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s after SIGINT", limit)
		return -1
	}
}

// TestSecondInterrupt: while a command cleans up after Ctrl-C (here run
// endpoint waiting out a container that ignores SIGTERM), a second Ctrl-C
// ends the process at once.
func TestSecondInterrupt(t *testing.T) {
	dc := testenv.Docker(t)
	bin := hostBinary(t)
	fx := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	img, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{Break: "C-IN-13"}, fx, "sagekit-cli-interrupt-"+randomID())
	if err != nil {
		t.Fatal(err)
	}
	label := "dev.sagekit.test=" + randomID()
	t.Cleanup(func() {
		f := make(client.Filters).Add("label", label)
		cs, _ := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
		for _, c := range cs.Items {
			dc.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
		}
		dc.ImageRemove(context.Background(), img, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	cmd := exec.Command(bin, "run", "endpoint", img, "--model", t.TempDir(), "--port", "0", "--label", label, "--progress", "plain")
	var stdout testenv.SyncBuffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	var stderr testenv.SyncBuffer
	cmd.Stderr = io.MultiWriter(pw, &stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	stopping := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "stopping: SIGTERM") {
				once = true
				close(stopping)
			}
		}
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stdout.String(), "is serving at"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("never served\nstderr:\n%s", stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-stopping:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no clean-up after the first Ctrl-C\nstderr:\n%s", stderr.String())
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exit %v, want death by SIGINT", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("exit %v, want death by SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s after the second Ctrl-C\nstderr:\n%s", time.Since(start).Round(time.Second), stderr.String())
	}
}
