package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/bench/fixture"
	"github.com/sagekit/sagekit/bench/load"
)

// Closed-loop cells: payload and connections.
type cell struct {
	key     string
	payload string // "rows1" or "rows100"
	conns   int
}

var closedCells = []cell{
	{"rows1-c1", "rows1", 1},
	{"rows1-c16", "rows1", 16},
	{"rows1-c64", "rows1", 64},
	{"rows100-c16", "rows100", 16},
}

// cpuCell is the closed-loop cell of the CPU table and goals; the CPU time
// of the front is also read over every other rows1 cell (frontCells).
const cpuCell = "rows1-c16"

// frontCells are the cells of the front's CPU per request by connections.
var frontCells = []string{"rows1-c1", "rows1-c16", "rows1-c64"}

// frontNames are the command names of the processes that pass requests on.
var frontNames = map[string]bool{"nginx": true, "sagekit-runtime": true, "benchserver": true}

// cpuSplit returns the CPU time used between two readings, by the front's
// processes and by everything else (the workers).
func cpuSplit(before, after map[string]time.Duration) (front, workers time.Duration) {
	for name, t := range after {
		d := max(t-before[name], 0)
		if frontNames[name] {
			front += d
		} else {
			workers += d
		}
	}
	return front, workers
}

// openRates are the open-loop arrival rates, requests per second.
var openRates = []int{200, 1000}

// relFractions are the open-loop rates relative to the reference's
// capacity, as perf-anchors' protocol (5.3) asks: 0.5x and 0.8x the best
// closed-loop requests/s of the sync reference serving the same predictor,
// measured earlier in the same repetition, so that every stack of a
// predictor gets the same rates. On a machine where the reference saturates
// below 1,000 requests/s these are the rates at which tails compare.
var relFractions = []float64{0.5, 0.8}

// baseline reports whether s sets the relative rates of its predictor.
func (s stack) baseline() bool { return s.kind == kindRef && s.class == "sync" }

// capacity is a sample's best closed-loop requests/s with the 1-row payload.
func capacity(sm sample) float64 {
	best := 0.0
	for key, r := range sm.Closed {
		if strings.HasPrefix(key, "rows1-") {
			best = max(best, r.RPS)
		}
	}
	return best
}

// openPool bounds the open-loop generator's connections.
const openPool = 64

// sample is one repetition of one stack.
type sample struct {
	Load     string        // /proc/loadavg before the stack started
	Idle     float64       // CPU idle share before the stack started
	Parse    time.Duration // fastest of parseTries 6 MB CSV parses, after the idle check
	Start    time.Duration
	PSSReady int64 // 1 s after the first 200 /ping
	PSSIdle  int64 // after a warm-up that reaches every worker, then idle
	Procs    int
	Closed   map[string]load.Result
	// CPUFront and CPUWorkers are the server's CPU time over the rows1 c=16
	// cell: the front (nginx, sagekit-runtime, the Go servers) and the
	// worker processes (gunicorn's, sagekit's Python workers).
	CPUFront, CPUWorkers time.Duration
	// CPU is the same split over every closed-loop cell, by cell key.
	CPU  map[string]cpuSplitTimes
	Open map[int]load.Result
	// RelRates are the rates of relFractions for this repetition, and Rel
	// the open loops at them; empty when the baseline did not run.
	RelRates []int
	Rel      []load.Result
	PingSat  load.Result // /ping while /invocations is saturated
	InvSat   load.Result // the saturating load itself
	Big      load.Result // sequential 6 MB posts
	Over     int         // status of a post one byte over 6 MiB
	Body100  []byte      `json:"-"` // the answer to rows100
	Leftover []int       // processes alive after the kill
	Err      error       `json:"-"`
}

// cpuSplitTimes is the CPU time of the front's processes and of the
// workers over one cell.
type cpuSplitTimes struct{ Front, Workers time.Duration }

type payloads struct {
	rows1, rows100, big []byte
}

func newPayloads() payloads {
	return payloads{rows1: fixture.OneRow, rows100: fixture.IrisCSV(100), big: fixture.IrisCSV(375000)}
}

func (p payloads) get(name string) []byte {
	if name == "rows100" {
		return p.rows100
	}
	return p.rows1
}

// measure runs every cell against one fresh start of s. base is the
// capacity relFractions apply to; 0 when s is the baseline (its own is
// used) or when the baseline did not run (no relative cells).
func (e *env) measure(ctx context.Context, c config, s stack, rep int, p payloads, base float64) (sm sample) {
	sm.Idle = waitIdle(ctx, c.idleWait)
	sm.Load = loadavg()
	sm.Parse, _ = bestParse(p.big, parseTries)
	g, addr, err := e.start(s, rep)
	if err != nil {
		sm.Err = err
		return sm
	}
	defer func() { sm.Leftover = g.Kill() }()
	fail := func(err error) sample {
		log, _ := os.ReadFile(filepath.Join(e.l.Dir, fmt.Sprintf("%s-%d", s.key, rep), "output.log"))
		if len(log) > 2000 {
			log = log[len(log)-2000:]
		}
		sm.Err = fmt.Errorf("%w\nlast output:\n%s", err, log)
		return sm
	}
	if sm.Start, err = g.WaitReady(ctx, addr, "/ping", 60*time.Second); err != nil {
		return fail(err)
	}
	inv := func(body []byte) load.Target {
		return load.Target{Addr: addr, Path: "/invocations", ContentType: "text/csv", Body: body}
	}
	ping := load.Target{Addr: addr, Path: "/ping"}

	sleep(ctx, c.settle/2)
	sm.PSSReady, _, _ = g.PSS()

	// Warm-up: enough connections to reach every worker; then the answer
	// to rows100, compared across stacks.
	if r := load.ClosedLoop(ctx, inv(p.rows1), 4*e.workers, time.Second); r.Requests == 0 || r.Errors() > 0 {
		return fail(fmt.Errorf("warm-up: %d requests, %d non-2xx, %d socket errors", r.Requests, r.Non2xx, r.SocketErrors))
	}
	status, body, err := load.Get(inv(p.rows100))
	if err != nil || status != 200 {
		return fail(fmt.Errorf("rows100: status %d, %v: %s", status, err, body))
	}
	sm.Body100 = body
	sleep(ctx, c.settle)
	sm.PSSIdle, sm.Procs, _ = g.PSS()

	sm.Closed = map[string]load.Result{}
	sm.CPU = map[string]cpuSplitTimes{}
	for _, cl := range closedCells {
		before := g.CPU()
		r, err := e.closed(ctx, inv(p.get(cl.payload)), cl.conns, c.cell)
		if err != nil {
			return fail(err)
		}
		sm.Closed[cl.key] = r
		var t cpuSplitTimes
		t.Front, t.Workers = cpuSplit(before, g.CPU())
		sm.CPU[cl.key] = t
		if cl.key == cpuCell {
			sm.CPUFront, sm.CPUWorkers = t.Front, t.Workers
		}
	}
	sm.Open = map[int]load.Result{}
	for _, rate := range openRates {
		// A server slower than the rate has a backlog when the schedule ends;
		// what it has not answered one cell later counts as errors.
		sm.Open[rate] = load.OpenLoop(ctx, inv(p.rows1), float64(rate), c.cell, openPool, max(c.cell, 2*time.Second))
	}
	if s.baseline() {
		base = capacity(sm)
	}
	if base > 0 {
		for _, f := range relFractions {
			rate := max(1, int(f*base))
			sm.RelRates = append(sm.RelRates, rate)
			sm.Rel = append(sm.Rel, load.OpenLoop(ctx, inv(p.rows1), float64(rate), c.cell, openPool, max(c.cell, 2*time.Second)))
		}
	}

	// /ping every 10 ms while 64 connections keep /invocations busy.
	var wg sync.WaitGroup
	var satErr error
	wg.Go(func() { sm.InvSat, satErr = e.closed(ctx, inv(p.rows1), 64, c.cell) })
	sleep(ctx, 200*time.Millisecond)
	pctx, cancel := context.WithTimeout(ctx, c.cell-400*time.Millisecond)
	sm.PingSat = load.Pinger(pctx, ping, 10*time.Millisecond)
	cancel()
	wg.Wait()
	if satErr != nil {
		return fail(satErr)
	}

	sm.Big = load.Sequential(ctx, inv(p.big), c.bigPosts)
	over := append(bytes.Repeat([]byte("5.1,3.5,1.4,0.2\n"), (6<<20)/16), '\n')
	sm.Over, _, _ = load.Get(inv(over))
	if ctx.Err() != nil {
		sm.Err = ctx.Err()
	}
	return sm
}

// closed runs a closed-loop cell with wrk, or with the Go generator when
// wrk is not installed.
func (e *env) closed(ctx context.Context, t load.Target, conns int, d time.Duration) (load.Result, error) {
	if !e.haveWrk {
		return load.ClosedLoop(ctx, t, conns, d), nil
	}
	return load.Wrk(ctx, wrk, t, conns, d, e.l.Dir)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
