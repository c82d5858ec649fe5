package conformance_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"runtime"
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

const fixtureRepo = "sagekit-conformance-fixture"

// testWindows shortens SageMaker's limits so that fixtures which hang, ignore
// SIGTERM or never get healthy cost seconds, not minutes.
var testWindows = conformance.Windows{
	StartupTimeout:    12 * time.Second,
	PingTimeout:       2 * time.Second,
	InvocationTimeout: 3 * time.Second,
	TrainingGrace:     5 * time.Second,
	HostingGrace:      5 * time.Second,
	TrainingTimeout:   2 * time.Minute,
	SigtermAfter:      100 * time.Millisecond,
	SigtermSilent:     5 * time.Second,
	PeerDelay:         2 * time.Second,
}

var (
	buildOnce sync.Once
	built     map[string]string // fixture key → image ref
	buildErr  error
	builtDC   *client.Client
)

func key(f fixtures.Fixture) string {
	if f.GPU {
		return f.Break + "+gpu"
	}
	return f.Break
}

// fixtureImages builds every fixture image once per test binary.
func fixtureImages(t *testing.T) (*client.Client, map[string]string) {
	t.Helper()
	dc := testenv.Docker(t)
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	buildOnce.Do(func() {
		c, err := client.New(client.FromEnv)
		if err != nil {
			buildErr = err
			return
		}
		builtDC = c
		built = map[string]string{}
		all := append([]fixtures.Fixture{{}, {GPU: true}, {Break: fixtures.ExitsWithoutReason}}, fixtures.Breaks...)
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, f := range all {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				// Tagged per test process, so that two runs at once
				// never remove each other's images.
				ref, err := fixtures.Build(context.Background(), c, f, bin, fmt.Sprintf("%s-%d", fixtureRepo, os.Getpid()))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					buildErr = err
					return
				}
				built[key(f)] = ref
			})
		}
		wg.Wait()
	})
	if buildErr != nil {
		t.Fatalf("building fixture images: %v", buildErr)
	}
	return dc, built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDC != nil {
		for _, ref := range built {
			builtDC.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
		}
	}
	if dc, err := client.New(client.FromEnv); err == nil {
		removeToolkitTrainingImages(dc)
		dc.Close()
	}
	os.Exit(code)
}

// assertNoLeftovers fails t when a container or network of run runID
// remains, and removes it.
func assertNoLeftovers(t *testing.T, dc *client.Client, runID string) {
	t.Helper()
	f := make(client.Filters).Add("label", conformance.LabelRun+"="+runID)
	cs, err := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := dc.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items) > 0 || len(ns.Items) > 0 {
		t.Errorf("run %s left behind %d containers and %d networks", runID, len(cs.Items), len(ns.Items))
		conformance.Sweep(context.Background(), runID, conformance.WithClient(dc))
	}
}

func check(t *testing.T, dc *client.Client, ref string, opts ...conformance.Option) *conformance.Report {
	t.Helper()
	opts = append([]conformance.Option{conformance.WithClient(dc), conformance.WithWindows(testWindows)}, opts...)
	rep, err := conformance.Check(t.Context(), ref, opts...)
	if err != nil {
		t.Fatalf("Check(%s): %v", ref, err)
	}
	return rep
}

// TestGoodFixturePasses: the baseline image passes every rule that applies;
// nothing is skipped, and only toolkit, GPU and unclaimed rules are n/a.
func TestGoodFixturePasses(t *testing.T) {
	dc, imgs := fixtureImages(t)
	for _, gpu := range []bool{false, true} {
		name := "cpu"
		if gpu {
			name = "gpu"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runID := "good-" + name + "-" + time.Now().Format("150405.000000")
			rep := check(t, dc, imgs[key(fixtures.Fixture{GPU: gpu})], conformance.WithGPU(gpu), conformance.WithRunID(runID))
			assertNoLeftovers(t, dc, runID)
			for _, r := range rep.Results {
				ok := r.Status == conformance.StatusPass || r.Status == conformance.StatusAdvice
				if r.Status == conformance.StatusNA {
					ok = isToolkit(r.ID) || (!gpu && isGPURule(r.ID))
				}
				if r.ID == "C-GPU-02" && gpu && r.Status == conformance.StatusSkip {
					ok = r.Message == "skipped: no GPU runtime"
				}
				if !ok {
					t.Errorf("%s = %s (%s), want pass", r.ID, r.Status, r.Message)
				}
			}
			if !rep.Passed() {
				t.Errorf("report failed: %s", rep.Summary)
			}
		})
	}
}

func isToolkit(id string) bool { return id[:2] == "T-" }

func isGPURule(id string) bool { return id == "C-TR-13" || id[:5] == "C-GPU" }

// TestFixturesFailOnlyTheirRule: each known-bad image fails its rule and no
// other rule, at any level.
func TestFixturesFailOnlyTheirRule(t *testing.T) {
	dc, imgs := fixtureImages(t)
	type run struct {
		rep   *conformance.Report
		err   error
		runID string
	}
	runs := make([]run, len(fixtures.Breaks))
	// The runs wait on containers, not CPU: run several at once.
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for i, f := range fixtures.Breaks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			runID := "fixture-" + strings.ToLower(f.Break) + "-" + time.Now().Format("150405.000000")
			rep, err := conformance.Check(t.Context(), imgs[key(f)],
				conformance.WithClient(dc), conformance.WithWindows(testWindows), conformance.WithGPU(f.GPU), conformance.WithRunID(runID))
			runs[i] = run{rep, err, runID}
		})
	}
	wg.Wait()
	for i, f := range fixtures.Breaks {
		t.Run(f.Break, func(t *testing.T) {
			r := runs[i]
			// Failed runs leave nothing behind either.
			assertNoLeftovers(t, dc, r.runID)
			if r.err != nil {
				t.Fatalf("Check: %v", r.err)
			}
			res, ok := r.rep.Result(f.Break)
			if !ok || res.Status != conformance.StatusFail {
				t.Errorf("%s = %s (%s), want fail", f.Break, res.Status, res.Message)
			}
			if got := r.rep.Failed(); !slices.Equal(got, []string{f.Break}) {
				var b bytes.Buffer
				r.rep.WriteTable(&b)
				t.Errorf("failed rules = %v, want only %s\n%s", got, f.Break, b.String())
			}
			if lvl := res.Level; lvl == conformance.Must && r.rep.Passed() {
				t.Errorf("a failed must-rule left the report passing")
			}
		})
	}
}

// TestExitOneWithoutFailureFileFailsCTR04: an image whose training exits 1
// on every run without writing /opt/ml/output/failure fails C-TR-04 on that
// evidence, although C-TR-03, which it depends on, is skipped because the
// valid job failed (C-TR-05).
func TestExitOneWithoutFailureFileFailsCTR04(t *testing.T) {
	dc, imgs := fixtureImages(t)
	runID := "exit-1-" + time.Now().Format("150405.000000")
	rep := check(t, dc, imgs[fixtures.ExitsWithoutReason], conformance.WithRules("C-TR"), conformance.WithRunID(runID))
	assertNoLeftovers(t, dc, runID)
	want := map[string]conformance.Status{"C-TR-04": conformance.StatusFail, "C-TR-05": conformance.StatusFail, "C-TR-03": conformance.StatusSkip}
	for id, status := range want {
		res, ok := rep.Result(id)
		if !ok || res.Status != status {
			t.Errorf("%s = %s (%s), want %s", id, res.Status, res.Message, status)
		}
	}
	res, _ := rep.Result("C-TR-04")
	for _, s := range []string{"the valid job exited 1", "with /opt/ml/model read-only exited 1", "without any input channel exited 1", "without writing /opt/ml/output/failure"} {
		if !strings.Contains(res.Message, s) {
			t.Errorf("C-TR-04 message %q does not say %q", res.Message, s)
		}
	}
}

// TestJUnitRoundTrip: the JUnit file parses back with the same counts.
func TestJUnitRoundTrip(t *testing.T) {
	dc, imgs := fixtureImages(t)
	rep := check(t, dc, imgs["C-IN-14"], conformance.WithRules("C-IN", "C-IMG"))
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var got conformance.JUnitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("parsing the JUnit file: %v\n%s", err, b.String())
	}
	want := rep.JUnit()
	if got.Tests != want.Tests || got.Failures != want.Failures || got.Skipped != want.Skipped || len(got.Suites) != 1 || len(got.Suites[0].Cases) != len(rep.Results) {
		t.Errorf("JUnit round trip: tests/failures/skipped = %d/%d/%d, want %d/%d/%d", got.Tests, got.Failures, got.Skipped, want.Tests, want.Failures, want.Skipped)
	}
	if got.Failures != 1 {
		t.Errorf("failures = %d, want 1 (C-IN-14)", got.Failures)
	}
	for _, c := range got.Suites[0].Cases {
		if c.Failure != nil && c.Name[:7] != "C-IN-14" {
			t.Errorf("unexpected failure %q", c.Name)
		}
	}
}

// TestNoLeftoversWhenInterrupted: nothing labelled with the run id remains
// after a run whose context is cancelled mid-way (Ctrl-C). Finished runs,
// passing and failing, are checked by the fixture tests.
func TestNoLeftoversWhenInterrupted(t *testing.T) {
	dc, imgs := fixtureImages(t)
	runID := "interrupted-" + time.Now().Format("150405.000000")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := conformance.Check(ctx, imgs[""], conformance.WithClient(dc), conformance.WithWindows(testWindows), conformance.WithRunID(runID))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check after cancel = %v, want a deadline error (the run must notice the cancel)", err)
	}
	assertNoLeftovers(t, dc, runID)
}
