package python_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/serving"
	"github.com/sagekit/sagekit/serving/python"
	"github.com/sagekit/sagekit/serving/worker"
)

// pidApp answers with its pid, its parent's, the pid that imported it and
// its worker settings; "crash" exits, "hang" sleeps, "print" writes a line.
// GET /ping leaves a file named after the pid that answered it.
const pidApp = `import os, sys, time
LOADED_IN = os.getpid()
def app(environ, start_response):
    if environ["PATH_INFO"] == "/ping":
        open(os.path.join(os.environ["PING_DIR"], "ping-%d" % os.getpid()), "w").close()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]
    body = environ["wsgi.input"].read()
    if body == b"crash":
        os._exit(3)
    if body == b"hang":
        time.sleep(60)
    if body == b"print":
        print("line from worker", os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%d %d %d %s %s" % (os.getpid(), os.getppid(), LOADED_IN, os.environ.get("SAGEKIT_WORKER_ID"),
                                 os.environ.get("SAGEKIT_MODEL_DIR"))).encode()]
`

type pidAnswer struct {
	pid, ppid, loadedIn int
	workerID, modelDir  string
}

func askPid(t *testing.T, url, body string) (int, pidAnswer) {
	t.Helper()
	resp, err := http.Post(url+"/invocations", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %q: %v", body, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var a pidAnswer
	if resp.StatusCode == http.StatusOK {
		f := strings.Fields(string(b))
		if len(f) != 5 {
			t.Fatalf("POST %q = %q, want 5 fields", body, b)
		}
		a.pid, _ = strconv.Atoi(f[0])
		a.ppid, _ = strconv.Atoi(f[1])
		a.loadedIn, _ = strconv.Atoi(f[2])
		a.workerID, a.modelDir = f[3], f[4]
	}
	return resp.StatusCode, a
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil && !zombie(pid) }

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("reading the stat of %d: %v", pid, err)
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	ppid, _ := strconv.Atoi(strings.Fields(rest)[1])
	return ppid
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestForkServer: the app is imported (and its /ping called) once, in the
// fork server; the workers are forked from it, and the pool still
// supervises each one: its output, a crash, a hang, shutdown.
func TestForkServer(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	py := interpreter(t)
	dir, pings, base := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pidapp.py"), []byte(pidApp), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout := &testenv.SyncBuffer{}
	pool, err := worker.New(python.ForkServer(python.WSGICommand(py, install(t), "pidapp:app")),
		worker.WithForkServer(),
		worker.WithWorkers(2),
		worker.WithDir(dir),
		worker.WithEnv(append(os.Environ(), "PING_DIR="+pings)),
		worker.WithOutput(stdout, testWriter{t}),
		worker.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	s := serving.New(pool, serving.WithTimeout(time.Second), serving.WithModelDir(filepath.Join(base, "model")))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	closed := false
	t.Cleanup(func() {
		if !closed {
			pool.Close(context.Background())
		}
	})
	if err := s.Load(ctx); err != nil {
		t.Fatalf("Load: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)

	code, a := askPid(t, ts.URL, "who")
	if code != http.StatusOK {
		t.Fatalf("first request: status %d", code)
	}
	server := a.loadedIn
	if a.pid == server || a.ppid != server {
		t.Errorf("worker pid %d, parent %d, app imported in %d: want a worker forked from the process that imported the app", a.pid, a.ppid, server)
	}
	if got := parentOf(t, server); got != os.Getpid() {
		t.Errorf("the fork server's parent is %d, want this process %d", got, os.Getpid())
	}
	if a.modelDir != filepath.Join(base, "model") || (a.workerID != "0" && a.workerID != "1") {
		t.Errorf("worker settings: id %q, model dir %q", a.workerID, a.modelDir)
	}
	if _, err := os.Stat(filepath.Join(pings, "ping-"+strconv.Itoa(server))); err != nil {
		t.Errorf("the app's /ping was not called in the fork server before forking: %v", err)
	}

	// A worker's output reaches the pool's stdout, whole lines.
	if code, a := askPid(t, ts.URL, "print"); code != http.StatusOK {
		t.Errorf("print: status %d", code)
	} else {
		want := "line from worker " + strconv.Itoa(a.pid) + "\n"
		waitFor(t, "the worker's line on stdout", func() bool { return strings.Contains(stdout.String(), want) })
	}

	// A crash fails only its own request; the worker is forked again.
	if code, _ := askPid(t, ts.URL, "crash"); code != http.StatusBadGateway {
		t.Errorf("crash: status %d, want 502", code)
	}
	seen := map[int]bool{}
	waitFor(t, "two workers serving after the crash", func() bool {
		code, a := askPid(t, ts.URL, "who")
		if code == http.StatusOK && a.ppid == server {
			seen[a.pid] = true
		}
		return len(seen) >= 1 && pool.Ping(ctx) == nil
	})

	// A hung worker is killed at the timeout, and replaced.
	code, _ = askPid(t, ts.URL, "hang")
	if code != http.StatusGatewayTimeout {
		t.Errorf("hang: status %d, want 504", code)
	}
	var after pidAnswer
	waitFor(t, "a worker after the hang", func() bool {
		code, after = askPid(t, ts.URL, "who")
		return code == http.StatusOK
	})
	if after.ppid != server {
		t.Errorf("after the hang a worker runs with parent %d, want the fork server %d", after.ppid, server)
	}

	// Close ends the workers and the fork server.
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := pool.Close(cctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	for _, pid := range []int{server, after.pid} {
		if alive(pid) {
			t.Errorf("process %d still runs after Close", pid)
		}
	}
}

// TestForkServerBadModule: an app that cannot be imported fails Load at
// once, as a worker that exits before it is ready does, with the server's
// own exit status and its Python error on stderr.
func TestForkServerBadModule(t *testing.T) {
	py := interpreter(t)
	var stderr testenv.SyncBuffer
	pool, err := worker.New(python.ForkServer(python.WSGICommand(py, install(t), "no_such_module:app")),
		worker.WithForkServer(), worker.WithWorkers(2), worker.WithDir(t.TempDir()), worker.WithOutput(io.Discard, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	err = pool.Load(ctx, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready (exit status 1)") {
		t.Errorf("Load = %v, want the fork server's early exit with its own status 1", err)
	}
	if time.Since(t0) > 20*time.Second {
		t.Errorf("Load took %v", time.Since(t0))
	}
	if !strings.Contains(stderr.String(), "No module named 'no_such_module'") {
		t.Errorf("stderr does not hold the Python error:\n%s", stderr.String())
	}
}
