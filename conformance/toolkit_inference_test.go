package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
)

// tinWindows gives the Python containers of the toolkit play room to
// start on a busy machine (pip runs first in each); the other limits stay
// short.
var tinWindows = func() conformance.Windows {
	w := testWindows
	w.StartupTimeout = 90 * time.Second
	w.InvocationTimeout = 30 * time.Second
	return w
}()

// toolkitInferenceImages builds the good inference-toolkit fixture, then
// every known-bad one on it, and removes them when t ends.
func toolkitInferenceImages(t *testing.T) (*client.Client, map[string]string) {
	t.Helper()
	dc := testenv.Docker(t)
	if _, err := dc.ImageInspect(t.Context(), fixtures.PythonBase); err != nil {
		t.Fatalf("the toolkit fixtures build on %s, which is not in the Engine (make base): %v", fixtures.PythonBase, err)
	}
	runtimeBin := testenv.Runtime(t)
	imgs := map[string]string{}
	t.Cleanup(func() {
		for _, ref := range imgs {
			dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
		}
	})
	// A repository of this process's own: a concurrent test run that
	// removes its fixtures does not remove these.
	repo := fmt.Sprintf("%s-%d", fixtureRepo, os.Getpid())
	build := func(brk string) (string, error) {
		l, err := fixtures.ToolkitInference(repo, brk, runtimeBin)
		if err != nil {
			return "", err
		}
		return l.Build(t.Context(), dc)
	}
	start := time.Now()
	ref, err := build(fixtures.Good)
	if err != nil {
		t.Fatal(err)
	}
	imgs[fixtures.Good] = ref
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(fixtures.ToolkitInferenceBreaks))
	for i, brk := range fixtures.ToolkitInferenceBreaks {
		wg.Go(func() {
			ref, err := build(brk)
			errs[i] = err
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				imgs[brk] = ref
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("built %d inference-toolkit fixture images in %s", len(imgs), time.Since(start).Round(time.Millisecond))
	return dc, imgs
}

// TestToolkitInferenceFixtures: the good toolkit image passes every T-IN
// rule, and each known-bad one fails its rule and no other T-IN rule. The
// images claim the toolkit by their label.
func TestToolkitInferenceFixtures(t *testing.T) {
	dc, imgs := toolkitInferenceImages(t)
	cases := append([]string{fixtures.Good}, fixtures.ToolkitInferenceBreaks...)
	type run struct {
		rep   *conformance.Report
		err   error
		runID string
		took  time.Duration
	}
	runs := make([]run, len(cases))
	// Each run starts four Python containers: a few runs at a time.
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, brk := range cases {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			runID := "tin-" + strings.ToLower(strings.TrimPrefix(brk, "T-IN-")) + "-" + time.Now().Format("150405.000000")
			if brk == fixtures.Good {
				runID = "tin-good-" + time.Now().Format("150405.000000")
			}
			start := time.Now()
			rep, err := conformance.Check(t.Context(), imgs[brk], conformance.WithClient(dc), conformance.WithWindows(tinWindows),
				conformance.WithRules("T-IN"), conformance.WithRunID(runID))
			runs[i] = run{rep, err, runID, time.Since(start)}
		})
	}
	wg.Wait()
	for i, brk := range cases {
		name := brk
		if brk == fixtures.Good {
			name = "good"
		}
		t.Run(name, func(t *testing.T) {
			r := runs[i]
			assertNoLeftovers(t, dc, r.runID)
			if r.err != nil {
				t.Fatalf("Check: %v", r.err)
			}
			t.Logf("T-IN run took %s", r.took.Round(time.Millisecond))
			var table bytes.Buffer
			r.rep.WriteTable(&table)
			if len(r.rep.Results) != 8 {
				t.Errorf("%d results, want the 8 T-IN rules\n%s", len(r.rep.Results), table.String())
			}
			if brk == fixtures.Good {
				for _, res := range r.rep.Results {
					if res.Status != conformance.StatusPass {
						t.Errorf("%s = %s (%s), want pass", res.ID, res.Status, res.Message)
					}
				}
				return
			}
			res, _ := r.rep.Result(brk)
			if res.Status != conformance.StatusFail {
				t.Errorf("%s = %s (%s), want fail", brk, res.Status, res.Message)
			}
			if got := r.rep.Failed(); !slices.Equal(got, []string{brk}) {
				t.Errorf("failed rules = %v, want only %s\n%s", got, brk, table.String())
			}
			for _, res := range r.rep.Results {
				if res.ID != brk && res.Status != conformance.StatusPass {
					t.Errorf("%s = %s (%s), want pass", res.ID, res.Status, res.Message)
				}
			}
			t.Logf("%s: %s", brk, res.Message)
		})
	}
}

// TestToolkitInferenceNotClaimed: without the claim (sagekit's Python base
// image has no label) the T-IN rules are not applicable and no probe
// container runs.
func TestToolkitInferenceNotClaimed(t *testing.T) {
	dc := testenv.Docker(t)
	if _, err := dc.ImageInspect(t.Context(), fixtures.PythonBase); err != nil {
		t.Fatalf("%s is not in the Engine (make base): %v", fixtures.PythonBase, err)
	}
	var plays []string
	rep := check(t, dc, fixtures.PythonBase, conformance.WithRules("T-IN"), conformance.WithEvents(func(e conformance.Event) {
		if e.Kind == conformance.EventPlayStarted {
			plays = append(plays, e.Play)
		}
	}))
	for _, res := range rep.Results {
		if res.Status != conformance.StatusNA {
			t.Errorf("%s = %s (%s), want n/a", res.ID, res.Status, res.Message)
		}
	}
	if !slices.Equal(plays, []string{"static"}) {
		t.Errorf("plays = %v, want only static", plays)
	}
}

// BenchmarkToolkitInference times the T-IN rules alone (the toolkit play:
// four probe containers) on the good inference-toolkit fixture, with
// SageMaker's limits.
func BenchmarkToolkitInference(b *testing.B) {
	dc := testenv.Docker(b)
	l, err := fixtures.ToolkitInference(fmt.Sprintf("%s-bench-%d", fixtureRepo, os.Getpid()), fixtures.Good, testenv.Runtime(b))
	if err != nil {
		b.Fatal(err)
	}
	ref, err := l.Build(b.Context(), dc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	for b.Loop() {
		rep, err := conformance.Check(b.Context(), ref, conformance.WithClient(dc), conformance.WithRules("T-IN"))
		if err != nil {
			b.Fatal(err)
		}
		if rep.Summary.Pass != 8 {
			b.Fatalf("the good fixture does not pass every T-IN rule: %s %v", rep.Summary, rep.Failed())
		}
	}
}
