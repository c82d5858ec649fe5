package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagekit/sagekit/bench/fixture"
	"github.com/sagekit/sagekit/sdk/payload"
)

func run(ctx context.Context, c config) error {
	started := time.Now()
	if err := ensureDeps(ctx); err != nil {
		return err
	}
	// In memory when possible: logs, sockets and nginx's body buffers then
	// do not wait on a disk shared with other work, as a container's stdout
	// pipe does not.
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "sagekit-bench-serving-")
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // nginx's workers run as nobody
		return err
	}
	if c.keep {
		fmt.Println("run directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{workers: runtime.NumCPU(), haveWrk: haveWrk()}
	fmt.Println("building sagekit-runtime and benchserver")
	if e.runtimeBin, e.serverBin, err = buildBinaries(ctx, filepath.Join(dir, "bin")); err != nil {
		return err
	}
	if e.l, err = fixture.Write(dir); err != nil {
		return err
	}
	fmt.Println("training the iris tree with", python)
	if err := e.l.Train(ctx, python); err != nil {
		return err
	}
	m := describeMachine(ctx)
	fmt.Printf("machine: %s, %d CPUs, load %s\n", m.CPU, m.Cores, m.LoadStart)

	fmt.Println("go test -bench 6MB ./sdk/payload")
	parse, err := parseBench(ctx, c)
	if err != nil {
		return err
	}

	p := newPayloads()
	waitIdle(ctx, c.idleWait)
	first, err := bestParse(p.big, parseTries)
	if err != nil {
		return fmt.Errorf("parsing the 6 MB payload: %w", err)
	}
	parses := []time.Duration{first}

	rows := make([]*row, 0, len(stacks))
	for _, s := range stacks {
		if c.only == "" || slices.Contains(strings.Split(c.only, ","), s.key) {
			rows = append(rows, &row{s: s})
		}
	}
	// The baselines run first in each repetition: they set the relative
	// open-loop rates of the stacks of their predictor.
	order := slices.Clone(rows)
	slices.SortStableFunc(order, func(a, b *row) int {
		if a.s.baseline() == b.s.baseline() {
			return 0
		}
		if a.s.baseline() {
			return -1
		}
		return 1
	})

	// The floor of the workers' CPU per request, for each predictor a
	// Python stack serves.
	var floors []floor
	for _, pred := range []string{"noop", "tree"} {
		if !selected(rows, "worker-"+pred) && !selected(rows, "ref-sync-"+pred) {
			continue
		}
		f := e.measureFloor(ctx, c, pred)
		if f.Err != nil {
			fmt.Printf("floor %-5s FAILED: %v\n", pred, f.Err)
		} else {
			fmt.Printf("floor %-5s Flask app in process %.1f µs, through handle() %.1f µs  load %s\n", pred, f.App, f.Handle, f.Load)
		}
		floors = append(floors, f)
	}

	interrupted := false
reps:
	for rep := range c.reps {
		for _, r := range order {
			t0 := time.Now()
			sm := e.measure(ctx, c, r.s, rep, p, baseFor(rows, r.s, rep))
			if ctx.Err() != nil {
				// Interrupted: report the repetitions that finished.
				interrupted = true
				for _, r := range rows {
					if len(r.samples) > rep {
						r.samples = r.samples[:rep]
					}
				}
				fmt.Printf("interrupted during repetition %d: reporting %d complete repetition(s)\n", rep+1, rep)
				c.reps = rep
				break reps
			}
			r.samples = append(r.samples, sm)
			if sm.Parse > 0 {
				parses = append(parses, sm.Parse)
			}
			status := "ok"
			if sm.Err != nil {
				status = "FAILED: " + sm.Err.Error()
			} else if len(sm.Leftover) > 0 {
				status = fmt.Sprintf("ok, but processes %v survived the kill", sm.Leftover)
			}
			fmt.Printf("rep %d/%d  %-48s load %-15s %5.1fs  %s\n", rep+1, c.reps, r.s.name, sm.Load, time.Since(t0).Seconds(), status)
		}
	}
	// Paired, alternating cells of worker mode and the reference, for each
	// predictor both ran.
	var pairs []paired
	for _, pred := range []string{"noop", "tree"} {
		if interrupted || !selected(rows, "worker-"+pred) || !selected(rows, "ref-sync-"+pred) {
			continue
		}
		t0 := time.Now()
		pr := e.runPaired(ctx, c, pred, p)
		if ctx.Err() != nil {
			break
		}
		status := "ok"
		if pr.Err != nil {
			status = "FAILED: " + pr.Err.Error()
		}
		fmt.Printf("paired %-5s worker mode / reference, rows1 c=16: %.2f  %5.1fs  %s\n", pred, median(pr.ratios()), time.Since(t0).Seconds(), status)
		pairs = append(pairs, pr)
	}
	raws := map[string]any{"pairs": pairs, "floors": floors}
	for _, r := range rows {
		raws[r.s.key] = r.samples
	}
	if raw, err := json.MarshalIndent(raws, "", "  "); err == nil {
		os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644)
	}

	if c.reps == 0 {
		return fmt.Errorf("interrupted before a repetition finished: %w", ctx.Err())
	}
	rep := &report{c: c, m: m, rows: rows, pairs: pairs, floors: floors, parse: parse, parses: parses, workers: e.workers, wrk: e.haveWrk, took: time.Since(started), at: started.UTC(), interrupted: interrupted}
	md := rep.markdown()
	fmt.Println()
	fmt.Println(md)
	if c.doc != "" {
		if err := writeSection(c.doc, "## Serving", md); err != nil {
			return err
		}
		fmt.Println("wrote the Serving section of", c.doc)
	}
	var leftover []int
	for _, r := range rows {
		for _, sm := range r.samples {
			leftover = append(leftover, sm.Leftover...)
		}
	}
	if len(leftover) > 0 {
		return fmt.Errorf("processes %v survived the benchmark", leftover)
	}
	return nil
}

// selected reports whether the stack key is among the rows of this run.
func selected(rows []*row, key string) bool {
	return slices.ContainsFunc(rows, func(r *row) bool { return r.s.key == key })
}

// baseFor is the capacity the relative open-loop rates of s apply to in
// repetition rep: the baseline's of its predictor, 0 when s is the baseline
// or the baseline did not run or failed.
func baseFor(rows []*row, s stack, rep int) float64 {
	if s.baseline() {
		return 0
	}
	for _, r := range rows {
		if r.s.baseline() && r.s.pred == s.pred && len(r.samples) > rep && r.samples[rep].Err == nil {
			return capacity(r.samples[rep])
		}
	}
	return 0
}

// benchLine matches one result line of go test -bench.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op(?:\s+([0-9.]+) MB/s)?`)

// benchCount is how many single parses the payload benchmarks run: the
// best is reported, which a shared machine distorts least.
func benchCount(c config) string {
	if c.quick {
		return "2"
	}
	return "5"
}

// parseTries is how many parses make one set (see bestParse).
const parseTries = 3

// bestParse is the fastest of n calls of payload.ParseCSV on body, after
// one call that grows the heap: the figure a shared machine distorts least.
func bestParse(body []byte, n int) (time.Duration, error) {
	if _, err := payload.ParseCSV(body); err != nil {
		return 0, err
	}
	best := time.Duration(math.MaxInt64)
	for range n {
		t0 := time.Now()
		payload.ParseCSV(body)
		best = min(best, time.Since(t0))
	}
	return best, nil
}

// benchResult is the best of one Go benchmark's -count runs.
type benchResult struct {
	Name string
	NsOp float64
	MBs  float64
}

func parseBench(ctx context.Context, c config) ([]benchResult, error) {
	count, times := benchCount(c), "5x"
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "6MB", "-benchtime", times, "-count", count, "./sdk/payload")
	cmd.WaitDelay = 5 * time.Second // go test's child holds the pipe when go is killed
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench 6MB ./sdk/payload: %w\n%s", err, out)
	}
	byName := map[string][][2]float64{}
	var order []string
	for _, line := range strings.Split(string(out), "\n") {
		mm := benchLine.FindStringSubmatch(line)
		if mm == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(mm[2], 64)
		mbs, _ := strconv.ParseFloat(mm[3], 64)
		if _, ok := byName[mm[1]]; !ok {
			order = append(order, mm[1])
		}
		byName[mm[1]] = append(byName[mm[1]], [2]float64{ns, mbs})
	}
	var res []benchResult
	for _, name := range order {
		v := byName[name]
		slices.SortFunc(v, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
		res = append(res, benchResult{Name: name, NsOp: v[0][0], MBs: v[0][1]})
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench 6MB ./sdk/payload printed no results:\n%s", out)
	}
	return res, nil
}

// writeSection replaces the section that starts with the line heading (up
// to the next "## " heading) in the file at path with body, appending it
// when there is none and creating the file when it is missing.
func writeSection(path, heading, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(replaceSection(string(old), heading, body)), 0o644)
}

func replaceSection(doc, heading, body string) string {
	body = strings.TrimRight(body, "\n") + "\n"
	if doc == "" {
		return "# Benchmarks\n\n" + body
	}
	lines := strings.SplitAfter(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\r\n") == heading {
			start = i
			break
		}
	}
	if start < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + body
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	rest := strings.Join(lines[end:], "")
	if rest != "" {
		body += "\n"
	}
	return strings.Join(lines[:start], "") + body + rest
}
