package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/serving"
	"github.com/sagekit/sagekit/serving/worker"
)

// The test binary doubles as a generic worker: any program serving HTTP on
// $SAGEKIT_WORKER_SOCKET.
func TestMain(m *testing.M) {
	if os.Getenv("SAGEKIT_TEST_WORKER") == "1" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

func workerMain() int {
	ln, err := net.Listen("unix", os.Getenv("SAGEKIT_WORKER_SOCKET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listening:", err)
		return 1
	}
	fmt.Printf("worker %s started gpu=%q\n", os.Getenv("SAGEKIT_WORKER_ID"), os.Getenv("CUDA_VISIBLE_DEVICES"))
	fmt.Fprintf(os.Stderr, "worker %s stderr line\n", os.Getenv("SAGEKIT_WORKER_ID"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		cmd := string(b)
		switch {
		case cmd == "crash":
			os.Exit(3)
		case cmd == "hang":
			time.Sleep(time.Hour)
		case strings.HasPrefix(cmd, "sleep:"):
			ms, _ := strconv.Atoi(cmd[len("sleep:"):])
			time.Sleep(time.Duration(ms) * time.Millisecond)
			fmt.Fprint(w, os.Getpid())
			return
		case cmd == "pid":
			fmt.Fprint(w, os.Getpid())
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.Header().Set("X-Amzn-SageMaker-Custom-Attributes", "accept="+r.Header.Get("Accept"))
		w.Header().Set("X-Amzn-SageMaker-New-Session-Id", "s1")
		w.Header().Set("X-Other", "dropped")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s|%s", b, r.Header.Get("X-Amzn-SageMaker-Inference-Id"))
	})
	http.Serve(ln, mux)
	return 0
}

type fixture struct {
	url    string
	pool   *worker.Pool
	server *serving.Server
	stdout *testenv.SyncBuffer
	stderr *testenv.SyncBuffer
}

// startPool serves a pool of the test worker through the serving front.
func startPool(t testing.TB, n int, frontOpts []serving.Option, opts ...worker.Option) *fixture {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}}
	opts = append([]worker.Option{
		worker.WithWorkers(n),
		worker.WithEnv(append(os.Environ(), "SAGEKIT_TEST_WORKER=1")),
		worker.WithOutput(f.stdout, f.stderr),
		worker.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
	}, opts...)
	f.pool, err = worker.New([]string{exe, "-test.run=^$"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.server = serving.New(f.pool, frontOpts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.server.Load(ctx); err != nil {
		f.pool.Close(ctx)
		t.Fatalf("Load: %v", err)
	}
	ts := httptest.NewServer(f.server)
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.pool.Close(ctx)
	})
	f.url = ts.URL
	return f
}

func (f *fixture) invoke(t *testing.T, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.url+"/invocations", strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /invocations: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, string(b)
}

func (f *fixture) metrics() string {
	var b bytes.Buffer
	f.pool.WriteMetrics(&b)
	return b.String()
}

func TestPoolServes(t *testing.T) {
	f := startPool(t, 2, nil)
	code, h, body := f.invoke(t, "hello", "Content-Type", "text/csv; charset=utf-8", "Accept", "text/csv", "X-Amzn-SageMaker-Inference-Id", "id-1")
	if code != http.StatusCreated || body != "hello|id-1" {
		t.Fatalf("invoke = %d %q, want 201 \"hello|id-1\"", code, body)
	}
	got := map[string]string{
		"Content-Type":      h.Get("Content-Type"),
		"Custom-Attributes": h.Get("X-Amzn-SageMaker-Custom-Attributes"),
		"New-Session-Id":    h.Get("X-Amzn-SageMaker-New-Session-Id"),
		"X-Other":           h.Get("X-Other"),
	}
	want := map[string]string{
		"Content-Type":      "text/csv; charset=utf-8",
		"Custom-Attributes": "accept=text/csv",
		"New-Session-Id":    "s1",
		"X-Other":           "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response headers (-want +got):\n%s", diff)
	}
	resp, err := http.Get(f.url + "/ping")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/ping = %v %v, want 200", resp, err)
	}
	// Output arrives line by line on the runtime's stdout and stderr.
	deadline := time.Now().Add(10 * time.Second)
	for !(strings.Contains(f.stdout.String(), "worker 0 started") && strings.Contains(f.stderr.String(), "stderr line")) {
		if time.Now().After(deadline) {
			t.Fatalf("worker output not forwarded: stdout %q stderr %q", f.stdout.String(), f.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCrashedWorkerRestarts(t *testing.T) {
	f := startPool(t, 2, nil)
	waitWorkers(t, f, 2)
	var wg sync.WaitGroup
	var slowCode int
	var slowBody string
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowCode, _, slowBody = f.invoke(t, "sleep:700")
	}()
	time.Sleep(100 * time.Millisecond) // the slow request takes one worker
	code, _, body := f.invoke(t, "crash")
	if code != http.StatusBadGateway {
		t.Errorf("request that crashed its worker = %d %q, want 502", code, body)
	}
	wg.Wait()
	if slowCode != http.StatusOK {
		t.Errorf("request on the other worker = %d %q, want 200: only the crashed worker's request may fail", slowCode, slowBody)
	}
	// The pool comes back to two workers and keeps serving.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.metrics(), "sagekit_workers_ready 2\n") || !strings.Contains(f.metrics(), "sagekit_worker_restarts_total 1\n") {
		if time.Now().After(deadline) {
			t.Fatalf("crashed worker not restarted:\n%s", f.metrics())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 4; i++ {
		if code, _, body := f.invoke(t, "pid"); code != http.StatusOK {
			t.Errorf("after the restart: %d %q, want 200", code, body)
		}
	}
}

func TestHungWorkerKilled(t *testing.T) {
	f := startPool(t, 1, []serving.Option{serving.WithTimeout(500 * time.Millisecond)})
	_, _, pid := f.invoke(t, "pid")
	t0 := time.Now()
	code, _, body := f.invoke(t, "hang")
	if code != http.StatusGatewayTimeout {
		t.Fatalf("hung worker: %d %q, want 504", code, body)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("504 took %v, want about the 500ms timeout", took)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, newPid := f.invoke(t, "pid")
		if code == http.StatusOK {
			if newPid == pid {
				t.Errorf("the hung worker (pid %s) still serves: it was not killed", pid)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker came back after the hung one was killed: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(f.metrics(), "sagekit_worker_kills_total 1\n") {
		t.Errorf("kill not counted:\n%s", f.metrics())
	}
}

func TestPingWhileEveryWorkerIsBusy(t *testing.T) {
	t.Parallel()
	f := startPool(t, 2, nil)
	waitWorkers(t, f, 2)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.invoke(t, "sleep:2500")
		}()
	}
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		resp, err := http.Get(f.url + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		took := time.Since(t0)
		if resp.StatusCode != http.StatusOK || took > 500*time.Millisecond {
			t.Errorf("/ping with every worker busy = %d in %v, want 200 well under 2 s", resp.StatusCode, took)
		}
	}
	wg.Wait()
}

func TestGPUPinning(t *testing.T) {
	f := startPool(t, 0, nil, worker.WithGPUs([]string{"3", "5"}))
	if n := f.pool.MaxConcurrency(); n != 2 {
		t.Errorf("workers with two GPUs = %d, want 2", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !(strings.Contains(f.stdout.String(), `worker 0 started gpu="3"`) && strings.Contains(f.stdout.String(), `worker 1 started gpu="5"`)) {
		if time.Now().After(deadline) {
			t.Fatalf("workers not pinned one GPU each: %q", f.stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadCommandFailsLoad(t *testing.T) {
	for _, cmd := range [][]string{{"/nonexistent/worker"}, {"/bin/sh", "-c", "echo cannot import model >&2; exit 1"}} {
		p, err := worker.New(cmd, worker.WithWorkers(2))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t0 := time.Now()
		err = p.Load(ctx, t.TempDir())
		if err == nil {
			t.Errorf("Load(%q) = nil, want an error", cmd)
		}
		if time.Since(t0) > 5*time.Second {
			t.Errorf("Load(%q) took %v to fail, want at once", cmd, time.Since(t0))
		}
		p.Close(ctx)
		cancel()
	}
}

func TestCloseStopsWorkers(t *testing.T) {
	f := startPool(t, 2, nil)
	_, _, pid := f.invoke(t, "pid")
	n, _ := strconv.Atoi(pid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", n)); err == nil {
		t.Errorf("worker %d still running after Close", n)
	}
	if err := f.pool.Ping(ctx); err == nil {
		t.Error("Ping after Close = nil, want an error")
	}
}

func waitWorkers(t *testing.T, f *fixture, n int) {
	t.Helper()
	want := fmt.Sprintf("sagekit_workers_ready %d\n", n)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(f.metrics(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("never %d workers ready:\n%s", n, f.metrics())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"python3 serve.py", []string{"python3", "serve.py"}},
		{`  a  'b c'  "d \"e\" $f" g\ h `, []string{"a", "b c", `d "e" $f`, "g h"}},
		{`x ''`, []string{"x", ""}},
	}
	for _, tt := range tests {
		got, err := worker.SplitCommand(tt.in)
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SplitCommand(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "   ", `a 'b`, `a "b`} {
		if _, err := worker.SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) = nil error, want one", bad)
		}
	}
}

func TestGPUsFromVisibleDevices(t *testing.T) {
	if diff := cmp.Diff([]string{"2", "3"}, worker.GPUs(context.Background(), "2, 3")); diff != "" {
		t.Errorf("GPUs(\"2, 3\") (-want +got):\n%s", diff)
	}
	if got := worker.GPUs(context.Background(), "-1"); got != nil {
		t.Errorf("GPUs(\"-1\") = %v, want none", got)
	}
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"python3 serve.py", `a 'b c' "d \"e\"" f\ g`, `'`, `"\`, `\`, "x\ty\nz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := worker.SplitCommand(s)
		if err == nil && len(words) == 0 {
			t.Errorf("SplitCommand(%q) = no words and no error", s)
		}
		// Words quoted back in single quotes split to the same words.
		if err == nil {
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
			}
			again, err := worker.SplitCommand(strings.Join(quoted, " "))
			if err != nil || !cmp.Equal(words, again) {
				t.Errorf("SplitCommand(%q) = %q; quoted back and split again: %q, %v", s, words, again, err)
			}
		}
	})
}
