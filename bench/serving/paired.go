package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sagekit/sagekit/bench/load"
)

// pairCount is how many alternating pairs of cells the paired comparison
// runs per predictor.
const pairCount = 5

// paired is the paired comparison of worker mode with the sync reference
// for one predictor: both stacks run at once, idle but for the cell being
// measured, and rows1 c=16 cells alternate (worker mode, reference, worker
// mode, ...), so that both see the same minutes of a shared machine.
type paired struct {
	Pred   string
	Worker []float64 // requests/s of each pair's worker-mode cell
	Ref    []float64 // and of its reference cell
	Err    error     `json:"-"`
}

// ratios is worker mode's requests/s over the reference's, pair by pair.
func (p paired) ratios() []float64 {
	var r []float64
	for i := range min(len(p.Worker), len(p.Ref)) {
		r = append(r, ratio(p.Worker[i], p.Ref[i]))
	}
	return r
}

// runPaired starts worker mode and the sync reference of pred side by side
// and alternates closed-loop cells between them.
func (e *env) runPaired(ctx context.Context, c config, pred string, p payloads) (res paired) {
	res.Pred = pred
	waitIdle(ctx, c.idleWait)
	var stacksOf [2]stack
	for _, s := range stacks {
		switch {
		case s.kind == kindWorker && s.pred == pred:
			stacksOf[0] = s
		case s.baseline() && s.pred == pred:
			stacksOf[1] = s
		}
	}
	var addrs [2]string
	for i, s := range stacksOf {
		// Repetition numbers past the main ones keep their logs apart.
		g, addr, err := e.start(s, c.reps+1)
		if err != nil {
			res.Err = err
			return res
		}
		defer g.Kill()
		if _, err := g.WaitReady(ctx, addr, "/ping", 60*time.Second); err != nil {
			res.Err = fmt.Errorf("%s: %w", s.name, err)
			return res
		}
		addrs[i] = addr
	}
	for i := range stacksOf {
		t := load.Target{Addr: addrs[i], Path: "/invocations", ContentType: "text/csv", Body: p.rows1}
		if r := load.ClosedLoop(ctx, t, 4*e.workers, time.Second); r.Requests == 0 || r.Errors() > 0 {
			res.Err = fmt.Errorf("%s warm-up: %d requests, %d non-2xx, %d socket errors", stacksOf[i].name, r.Requests, r.Non2xx, r.SocketErrors)
			return res
		}
	}
	for range pairCount {
		for i := range stacksOf {
			t := load.Target{Addr: addrs[i], Path: "/invocations", ContentType: "text/csv", Body: p.rows1}
			r, err := e.closed(ctx, t, 16, c.cell)
			if err == nil && r.Errors() > 0 {
				err = fmt.Errorf("%d non-2xx, %d socket errors", r.Non2xx, r.SocketErrors)
			}
			if err != nil {
				res.Err = fmt.Errorf("%s: %w", stacksOf[i].name, err)
				return res
			}
			if i == 0 {
				res.Worker = append(res.Worker, r.RPS)
			} else {
				res.Ref = append(res.Ref, r.RPS)
			}
		}
	}
	if ctx.Err() != nil {
		res.Err = ctx.Err()
	}
	return res
}
