package platformtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/backendtest"
	"github.com/sagekit/sagekit/platform/platformtest"
	"github.com/sagekit/sagekit/sdk/optml"
)

// TestContract holds the in-memory engine to the contract the Docker
// backends keep, its containers playing the fixture program.
func TestContract(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) platform.Backend {
		f := &fixture{arrived: map[string]int{}}
		return &platformtest.Backend{
			Run: func(ctx context.Context, p *platformtest.Process) int {
				return f.run(ctx, p, p.Spec.Cmd, p.Stdout(), p.Stderr(), p.Signals())
			},
			OnExec: func(ctx context.Context, p *platformtest.Process, cmd []string) (int, []byte) {
				var out bytes.Buffer
				code := f.run(ctx, p, cmd[1:], &out, &out, nil)
				return code, out.Bytes()
			},
		}
	}, backendtest.Options{Image: "sagekit-backendtest:good"})
}

// fixture plays conformance/fixtures/cmd/fixture as far as the contract
// observes it.
type fixture struct {
	mu      sync.Mutex
	arrived map[string]int // network -> hosts that met their peers
}

func (f *fixture) run(ctx context.Context, p *platformtest.Process, args []string, stdout, stderr io.Writer, sigs <-chan string) int {
	logf := func(format string, a ...any) { fmt.Fprintf(stdout, "fixture: "+format+"\n", a...) }
	if len(args) == 0 {
		fmt.Fprintln(stderr, "fixture: usage: fixture train|serve")
		return 2
	}
	switch args[0] {
	case "train":
		return f.train(ctx, p, logf, sigs)
	case "serve":
		if slices.Contains(p.Spec.Ports, "8080/tcp") {
			if err := p.Serve("8080/tcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})); err != nil {
				fmt.Fprintln(stderr, "fixture: listening:", err)
				return 1
			}
		}
		logf("serving on :8080")
		select {
		case <-sigs:
			logf("stopped")
		case <-ctx.Done():
		}
		return 0
	default:
		fmt.Fprintf(stderr, "fixture: unknown command %q\n", args[0])
		return 2
	}
}

func (f *fixture) train(ctx context.Context, p *platformtest.Process, logf func(string, ...any), sigs <-chan string) int {
	paths := optml.At(p.HostPath("/opt/ml"))
	logf("training starts")
	cfg, err := paths.LoadTraining()
	if err != nil {
		logf("training failed: %v", err)
		return 1
	}
	if p.Env(fixtures.EnvBreak) == "C-TR-12" && p.Spec.NoNetwork {
		logf("training failed: downloading the pretrained weights needs network access")
		return 1
	}
	if hosts := cfg.Resource.Hosts; len(hosts) > 1 {
		for _, h := range hosts {
			if h == cfg.Resource.CurrentHost {
				continue
			}
			addr, ok := p.LookupHost(h)
			for deadline := time.Now().Add(time.Minute); !ok; addr, ok = p.LookupHost(h) {
				if time.Now().After(deadline) || ctx.Err() != nil {
					logf("training failed: resolving peer %s", h)
					return 1
				}
				time.Sleep(20 * time.Millisecond)
			}
			logf("resolved peer %s to %s", h, addr)
		}
		// Every host waits until every other has met it.
		f.mu.Lock()
		f.arrived[p.Spec.Network.Network]++
		f.mu.Unlock()
		for {
			f.mu.Lock()
			n := f.arrived[p.Spec.Network.Network]
			f.mu.Unlock()
			if n >= len(hosts) {
				break
			}
			select {
			case <-ctx.Done():
				return 1
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	seconds, _ := strconv.Atoi(cfg.Hyperparameters["seconds"])
	epochs := 1
	if v, ok := cfg.Hyperparameters["epochs"]; ok {
		epochs, _ = strconv.Atoi(v)
	}
	partial := false
	select {
	case <-time.After(time.Duration(seconds) * time.Second):
	case <-sigs:
		logf("SIGTERM: saving a partial model")
		partial = true
	case <-ctx.Done():
		return 137
	}
	model, _ := json.Marshal(map[string]any{"epochs": epochs, "partial": partial})
	if err := os.WriteFile(filepath.Join(paths.Model(), "model.json"), model, 0o644); err != nil {
		logf("training failed: writing the model: %v", err)
		return 1
	}
	logf("loss=0.%d; epochs=%d", 42, epochs)
	return 0
}
