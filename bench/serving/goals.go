package main

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"time"
)

type goal struct {
	what     string
	measured string
	target   string
	pass     bool
	missing  bool // a row it needs did not run or failed
}

func (g goal) result() string {
	switch {
	case g.missing:
		return "**NOT MEASURED**"
	case g.pass:
		return "PASS"
	}
	return "**MISS**"
}

// repRange gives the lowest and highest ratio of f between a and b within
// one repetition (the two stacks ran minutes apart at most), as
// "; repetitions 0.95–1.30x", or "" with fewer than two repetitions.
func repRange(a, b *row, f func(sample) float64) string {
	var xs []float64
	for i := range min(len(a.samples), len(b.samples)) {
		sa, sb := a.samples[i], b.samples[i]
		if sa.Err == nil && sb.Err == nil {
			xs = append(xs, ratio(f(sa), f(sb)))
		}
	}
	if len(xs) < 2 {
		return ""
	}
	return fmt.Sprintf("; repetitions %.2f–%.2fx", slices.Min(xs), slices.Max(xs))
}

// cpuLimit is the goal for worker mode's server CPU per request, as a
// ratio to the reference's, by predictor.
var cpuLimit = map[string]float64{"noop": 0.7, "tree": 0.95}

// cpuPerReq is the server's CPU time per request over the cpuCell cell, in
// microseconds: front, workers and their sum.
func cpuPerReq(sm sample) (front, workers, total float64) {
	n := sm.Closed[cpuCell].Requests
	if n == 0 {
		return 0, 0, 0
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(n) }
	return us(sm.CPUFront), us(sm.CPUWorkers), us(sm.CPUFront + sm.CPUWorkers)
}

// frontPerReq is the front's CPU time per request over the closed-loop
// cell key, in microseconds; 0 when the sample has no reading for it.
func frontPerReq(sm sample, key string) float64 {
	n := sm.Closed[key].Requests
	t, ok := sm.CPU[key]
	if n == 0 || !ok {
		return 0
	}
	return float64(t.Front) / float64(time.Microsecond) / float64(n)
}

// generatorCeiling says how many requests/s the machine's CPUs allow a at
// its own CPU cost plus the load generator's, as a ratio to b: with the
// generator on the same CPUs, no server reaches past it.
func generatorCeiling(a, b *row) string {
	gen := a.med(func(sm sample) float64 {
		c := sm.Closed[cpuCell]
		if c.Requests == 0 || c.GenCPU == 0 {
			return 0
		}
		return float64(c.GenCPU) / float64(time.Microsecond) / float64(c.Requests)
	})
	srv := a.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
	if gen == 0 || srv == 0 {
		return ""
	}
	ceiling := float64(runtime.NumCPU()) * 1e6 / (gen + srv)
	return fmt.Sprintf("; wrk costs %.0f µs per request and the server %.0f: %d CPUs allow at most %s rps, %.2fx", gen, srv, runtime.NumCPU(), fmtRPS(ceiling), ratio(ceiling, b.rps(cpuCell)))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (rp *report) goals() []goal {
	var gs []goal
	have := func(rs ...*row) bool {
		for _, r := range rs {
			if r == nil || len(r.ok()) == 0 {
				return false
			}
		}
		return true
	}
	rps16 := func(sm sample) float64 { return sm.Closed[cpuCell].RPS }
	rpsRatio := func(what string, a, b *row, min float64, withCPU bool) {
		g := goal{what: what, target: fmt.Sprintf("≥ %gx", min), missing: !have(a, b)}
		if !g.missing {
			x := ratio(a.rps(cpuCell), b.rps(cpuCell))
			g.measured = fmt.Sprintf("%.2fx (%s vs %s rps%s)", x, fmtRPS(a.rps(cpuCell)), fmtRPS(b.rps(cpuCell)), repRange(a, b, rps16))
			if withCPU {
				ca := a.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
				cb := b.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
				g.measured += fmt.Sprintf("; CPU per request %.0f vs %.0f µs", ca, cb)
			}
			g.pass = x >= min
		}
		gs = append(gs, g)
	}
	bare, goNoop, goTree := rp.row("bare"), rp.row("go-noop"), rp.row("go-tree")
	wNoop, wTree := rp.row("worker-noop"), rp.row("worker-tree")
	refNoop, refTree := rp.reference("noop"), rp.reference("tree")
	rpsRatio("Go handler no-op vs bare net/http, rps", goNoop, bare, 0.85, true)
	rpsRatio("Go handler no-op vs no-op reference, rps", goNoop, refNoop, 8, false)
	if g := &gs[len(gs)-1]; !g.missing {
		g.measured += generatorCeiling(goNoop, refNoop)
	}
	rpsRatio("Go handler tree vs reference tree, rps", goTree, refTree, 20, false)

	type pair struct{ w, ref *row }
	workerPairs := []pair{{wNoop, refNoop}, {wTree, refTree}}
	// The front: sagekit-runtime against nginx, at every connection count.
	for _, pr := range workerPairs {
		if pr.w == nil {
			continue
		}
		for _, key := range frontCells {
			g := goal{what: fmt.Sprintf("%s: front CPU per request vs nginx's, %s", pr.w.s.name, cellLabel(key)), target: "≤ 1.0x", missing: !have(pr.w, pr.ref)}
			if !g.missing {
				a := pr.w.med(func(sm sample) float64 { return frontPerReq(sm, key) })
				b := pr.ref.med(func(sm sample) float64 { return frontPerReq(sm, key) })
				g.missing = a == 0 || b == 0
				g.measured = fmt.Sprintf("%.2fx (%.0f vs %.0f µs)", ratio(a, b), a, b)
				g.pass = !g.missing && a <= b
			}
			gs = append(gs, g)
		}
	}
	// The whole stack: front and workers.
	for _, pr := range workerPairs {
		if pr.w == nil {
			continue
		}
		limit := cpuLimit[pr.w.s.pred]
		g := goal{what: pr.w.s.name + ": server CPU per request vs the reference", target: fmt.Sprintf("≤ %gx", limit), missing: !have(pr.w, pr.ref)}
		if !g.missing {
			a := pr.w.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
			b := pr.ref.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
			g.measured = fmt.Sprintf("%.2fx (%.0f vs %.0f µs)", ratio(a, b), a, b)
			g.pass = ratio(a, b) <= limit
		}
		gs = append(gs, g)
	}
	// Throughput in paired cells, and tails at fractions of the reference's
	// capacity.
	for _, pr := range workerPairs {
		if pr.w == nil {
			continue
		}
		pd := rp.pair(pr.w.s.pred)
		g := goal{what: fmt.Sprintf("%s vs the sync reference, rps, median of %d paired alternating cells", pr.w.s.name, pairCount), target: "≥ 1.0x", missing: pd == nil || pd.Err != nil || len(pd.ratios()) == 0}
		if !g.missing {
			rs := pd.ratios()
			x := median(rs)
			g.measured = fmt.Sprintf("%.2fx (%s vs %s rps; pairs %.2f–%.2fx)", x, fmtRPS(median(pd.Worker)), fmtRPS(median(pd.Ref)), slices.Min(rs), slices.Max(rs))
			g.pass = x >= 1.0
		}
		gs = append(gs, g)
		for i, f := range relFractions {
			g := goal{what: fmt.Sprintf("%s vs the reference, open-loop p99 at %gx the reference's capacity", pr.w.s.name, f), target: "≤ 0.8x", missing: !haveRel(pr.w) || !haveRel(pr.ref)}
			if !g.missing {
				a := relRow(pr.w).med(func(sm sample) float64 { return ms(sm.Rel[i].P99) })
				b := relRow(pr.ref).med(func(sm sample) float64 { return ms(sm.Rel[i].P99) })
				g.measured = fmt.Sprintf("%.2fx (%s vs %s ms)", ratio(a, b), fmtMs(a), fmtMs(b))
				g.pass = ratio(a, b) <= 0.8
			}
			gs = append(gs, g)
		}
	}

	for _, r := range []*row{goNoop, goTree, wNoop, wTree} {
		if r == nil {
			continue
		}
		g := goal{what: r.s.name + ": /ping p99 while /invocations is saturated", target: "< 50 ms", missing: !have(r)}
		if !g.missing {
			p := r.med(func(sm sample) float64 { return ms(sm.PingSat.P99) })
			errs := r.med(func(sm sample) float64 { return float64(sm.PingSat.Errors()) })
			g.measured = fmtMs(p) + " ms"
			g.pass = p < 50 && errs == 0
			if errs > 0 {
				g.measured += fmt.Sprintf(", %.0f failed pings", errs)
			}
		}
		gs = append(gs, g)
	}
	for _, r := range []*row{goNoop, goTree} {
		if r == nil {
			continue
		}
		g := goal{what: r.s.name + ": start to first 200 /ping", target: "≤ 50 ms", missing: !have(r)}
		if !g.missing {
			v := r.med(func(sm sample) float64 { return ms(sm.Start) })
			g.measured, g.pass = fmtMs(v)+" ms", v <= 50
		}
		gs = append(gs, g)
		g = goal{what: r.s.name + ": idle PSS", target: "≤ 20 MB", missing: !have(r)}
		if !g.missing {
			v := r.med(func(sm sample) float64 { return mb(sm.PSSIdle) })
			g.measured, g.pass = fmt.Sprintf("%.1f MB", v), v <= 20
		}
		gs = append(gs, g)
	}
	for _, pr := range workerPairs {
		if pr.w == nil {
			continue
		}
		g := goal{what: pr.w.s.name + ": idle PSS vs the reference", target: "≤ 0.75x", missing: !have(pr.w, pr.ref)}
		if !g.missing {
			a := pr.w.med(func(sm sample) float64 { return mb(sm.PSSIdle) })
			b := pr.ref.med(func(sm sample) float64 { return mb(sm.PSSIdle) })
			g.measured = fmt.Sprintf("%.2fx (%.1f vs %.1f MB)", ratio(a, b), a, b)
			g.pass = ratio(a, b) <= 0.75
		}
		gs = append(gs, g)
	}
	best, median := parseStats(rp.parses)
	g := goal{what: fmt.Sprintf("6 MB CSV (375,000 rows x 4) parsed to float64s by sdk/payload, best of %d parses spread over the run", parseTries*len(rp.parses)), target: "≤ 20 ms", missing: len(rp.parses) == 0}
	if !g.missing {
		v := ms(best)
		g.measured, g.pass = fmt.Sprintf("%s ms (median of %d sets: %s ms)", fmtMs(v), len(rp.parses), fmtMs(ms(median))), v <= 20
	}
	gs = append(gs, g)

	// The Go tree and the unchanged predictor must answer exactly what
	// sklearn answers.
	if ref := rp.row("ref-sync-tree"); ref != nil {
		want := firstBody(ref)
		for _, r := range []*row{goTree, wTree, rp.row("ref-gevent-tree")} {
			if r == nil {
				continue
			}
			g := goal{what: r.s.name + ": rows100 answer byte-identical to sklearn's", target: "identical", missing: want == nil || !have(r)}
			if !g.missing {
				g.pass = true
				for _, sm := range r.ok() {
					g.pass = g.pass && bytes.Equal(sm.Body100, want)
				}
				g.measured = "identical"
				if !g.pass {
					g.measured = fmt.Sprintf("differs: %q vs %q", shorten(firstBody(r)), shorten(want))
				}
			}
			gs = append(gs, g)
		}
	}
	return gs
}

// cellLabel names a rows1 cell by its connections: "c=16".
func cellLabel(key string) string {
	for _, cl := range closedCells {
		if cl.key == key {
			return fmt.Sprintf("c=%d", cl.conns)
		}
	}
	return key
}

// relRow is r with only the samples that ran the open loops at
// relFractions of the reference's capacity.
func relRow(r *row) *row {
	var ok []sample
	for _, sm := range r.ok() {
		if len(sm.Rel) == len(relFractions) {
			ok = append(ok, sm)
		}
	}
	return &row{s: r.s, samples: ok}
}

func haveRel(r *row) bool { return r != nil && len(relRow(r).samples) > 0 }

// pair returns the paired comparison of a predictor, nil if it did not run.
func (rp *report) pair(pred string) *paired {
	for i := range rp.pairs {
		if rp.pairs[i].Pred == pred {
			return &rp.pairs[i]
		}
	}
	return nil
}
