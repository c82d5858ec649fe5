package launch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/optml/optmltest"
)

// fakeResolver resolves a host only after failing for it `fails` times.
type fakeResolver struct {
	mu    sync.Mutex
	fails int
	tries map[string]int
}

func (r *fakeResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tries == nil {
		r.tries = map[string]int{}
	}
	r.tries[host]++
	if r.fails < 0 || r.tries[host] <= r.fails {
		return nil, errors.New("no such host")
	}
	return []string{"10.0.0.1"}, nil
}

func twoHostTree(t *testing.T) optml.Paths {
	t.Helper()
	rc := optml.SingleHost("algo-1", "algo-1", "algo-2")
	p := optmltest.New(t, optml.Layout{Resource: &rc})
	os.MkdirAll(p.Code(), 0o755)
	os.WriteFile(filepath.Join(p.Code(), "train.sh"), []byte("exit 0\n"), 0o755)
	return p
}

func TestRunWaitsForHosts(t *testing.T) {
	p := twoHostTree(t)
	r := &fakeResolver{fails: 2}
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Resolver = r
	if code, err := Run(context.Background(), opts); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if r.tries["algo-1"] != 3 || r.tries["algo-2"] != 3 {
		t.Errorf("lookups = %v, want 3 per host", r.tries)
	}
}

func TestRunGivesUpOnHosts(t *testing.T) {
	p := twoHostTree(t)
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Resolver = &fakeResolver{fails: -1}
	opts.HostWait = 300 * time.Millisecond
	code, err := Run(context.Background(), opts)
	if code != ExitConfigError || err == nil {
		t.Fatalf("Run = %d, %v; want %d and an error", code, err, ExitConfigError)
	}
	if b, _ := os.ReadFile(p.Failure()); !strings.Contains(string(b), `resolving host "algo-1": gave up after 300ms`) {
		t.Errorf("failure file = %q", b)
	}
}

func TestRunSkipsHostWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		wait    time.Duration
	}{{"local mode", []string{"SM_STUDIO_LOCAL_MODE=true"}, 0}, {"negative wait", nil, -1}} {
		p := twoHostTree(t)
		opts := options(p, append(tc.environ, "SAGEMAKER_PROGRAM=train.sh")...)
		opts.Resolver = &fakeResolver{fails: -1}
		opts.HostWait = tc.wait
		if code, err := Run(context.Background(), opts); code != 0 || err != nil {
			t.Errorf("%s: Run = %d, %v", tc.name, code, err)
		}
	}
}

func TestRunStoppedWhileWaitingForHosts(t *testing.T) {
	p := twoHostTree(t)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Resolver = &fakeResolver{fails: -1}
	opts.Signals = sigs
	code, err := Run(context.Background(), opts)
	if code != 143 || err == nil {
		t.Fatalf("Run = %d, %v; want 143", code, err)
	}
}
