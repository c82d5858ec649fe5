package platform_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/platformtest"
	"github.com/sagekit/sagekit/sdk/optml"
)

// TestFakeStopAfterWaitsForTheProgram stops jobs whose program handles
// SIGTERM only some time after the start, losing any SIGTERM before (as
// PID 1 without a handler does). StopAfter counts from the program's first
// output, or from the start up to StopSilent for a program that says
// nothing, so the signal comes once the program can take it.
func TestFakeStopAfterWaitsForTheProgram(t *testing.T) {
	const (
		stopAfter = 20 * time.Millisecond
		silent    = 600 * time.Millisecond
		late      = 300 * time.Millisecond // when the program handles SIGTERM
	)
	tests := []struct {
		name string
		// speaks: the program prints once it handles SIGTERM.
		speaks bool
		// wantAfter is the least time from the start to SIGTERM.
		wantAfter time.Duration
	}{
		{name: "stopped after its first output", speaks: true, wantAfter: late + stopAfter},
		{name: "silent, stopped StopSilent after the start", wantAfter: silent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan time.Duration, 1)
			b := &platformtest.Backend{Run: func(ctx context.Context, p *platformtest.Process) int {
				t0 := time.Now()
				lost := time.After(late)
			deaf:
				for {
					select {
					case <-p.Signals(): // dropped: no handler yet
					case <-lost:
						break deaf
					case <-ctx.Done():
						return 1
					}
				}
				if tt.speaks {
					fmt.Fprintln(p.Stdout(), "training")
				}
				select {
				case <-p.Signals():
					got <- time.Since(t0)
					return 0
				case <-ctx.Done():
					return 1
				}
			}}
			e := fakeEngine(t, b)
			tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", StopAfter: stopAfter, StopSilent: silent, StopGrace: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Remove()
			h := tr.Hosts[0]
			if h.Stop == nil || h.Stop.Killed || h.ExitCode != 0 {
				t.Fatalf("stop %+v, exit %d: want the program to see SIGTERM and exit 0", h.Stop, h.ExitCode)
			}
			if d := <-got; d < tt.wantAfter {
				t.Errorf("SIGTERM came %s after the start, want at least %s", d, tt.wantAfter)
			}
		})
	}
}

// TestStopAfterLateHandler stops a real container whose PID 1 handles
// SIGTERM only after a second, silently, and prints once it does: the
// kernel drops a SIGTERM that comes before, so a stop counted from the
// start is lost and the grace period ends in SIGKILL. StopAfter counts
// from the first output, and the program saves and exits 0.
func TestStopAfterLateHandler(t *testing.T) {
	e, _ := newEngine(t)
	img := fixtureImage(t, e, "")
	tr, err := e.Train(t.Context(), platform.TrainingJob{
		Image:     img,
		Layout:    optml.Layout{Hyperparameters: optml.Hyperparameters{"seconds": "60", "sigterm_handler_delay": "1s"}},
		StopAfter: 100 * time.Millisecond,
		StopGrace: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	h := tr.Hosts[0]
	if h.Stop == nil || h.Stop.Killed || h.ExitCode != 0 {
		t.Errorf("stop %+v, exit %d: want the program to see SIGTERM and exit 0\n%s", h.Stop, h.ExitCode, h.Logs)
	}
	if !strings.Contains(string(h.Logs), "SIGTERM: saving a partial model") {
		t.Errorf("the program did not log receiving SIGTERM:\n%s", h.Logs)
	}
}
