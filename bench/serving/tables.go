package main

import (
	"fmt"
	"strings"
)

// frontTable writes the front's CPU per request at 1, 16 and 64
// connections, with the goal of the worker-mode rows beside it: no more
// than nginx's in the reference serving the same predictor.
func (rp *report) frontTable(w func(string, ...any)) {
	w("\n### Front CPU time per request by connections\n\n")
	w("CPU time of the front's process alone (nginx, sagekit-runtime or the Go server) over each rows1 closed-loop cell, divided by the requests answered in it; median of the repetitions. ")
	w("Worker mode's goal is a front that costs no more than nginx in the reference serving the same predictor, at every connection count.\n\n")
	w("| Stack |")
	for _, key := range frontCells {
		w(" %s µs |", cellLabel(key))
	}
	w(" goal | result |\n|---|")
	for range frontCells {
		w("---:|")
	}
	w("---|---|\n")
	for _, r := range rp.rows {
		if len(r.ok()) == 0 {
			w("| %s | failed |%s\n", r.s.name, strings.Repeat(" |", len(frontCells)+1))
			continue
		}
		w("| %s |", r.s.name)
		vals := make([]float64, len(frontCells))
		for i, key := range frontCells {
			vals[i] = r.med(func(sm sample) float64 { return frontPerReq(sm, key) })
			w(" %.0f |", vals[i])
		}
		ref := rp.reference(r.s.pred)
		if r.s.kind != kindWorker || ref == nil || len(ref.ok()) == 0 {
			w(" | |\n")
			continue
		}
		var goals, misses []string
		for i, key := range frontCells {
			b := ref.med(func(sm sample) float64 { return frontPerReq(sm, key) })
			goals = append(goals, fmt.Sprintf("%.0f", b))
			if vals[i] == 0 || b == 0 || vals[i] > b {
				misses = append(misses, cellLabel(key))
			}
		}
		result := "PASS"
		if len(misses) > 0 {
			result = "**MISS** at " + strings.Join(misses, ", ")
		}
		w(" ≤ nginx's %s µs | %s |\n", strings.Join(goals, " / "), result)
	}
}

// pairedTable writes the paired, alternating cells of worker mode and the
// reference.
func (rp *report) pairedTable(w func(string, ...any)) {
	if len(rp.pairs) == 0 {
		return
	}
	w("\n### Requests/s in paired, alternating cells\n\n")
	w("For each predictor, worker mode and the sync reference run side by side, started once, and %d pairs of rows1 c=16 closed-loop cells alternate between them (worker mode, reference, worker mode, ...), so that both see the same minutes of a shared machine. The ratio is taken pair by pair; the goal is its median.\n\n", pairCount)
	w("| Predictor | worker mode rps, each pair | reference rps, each pair | ratios | median | goal | result |\n|---|---|---|---|---:|---|---|\n")
	for _, pd := range rp.pairs {
		if pd.Err != nil {
			msg := strings.ReplaceAll(pd.Err.Error(), "\n", " ")
			if len(msg) > 200 {
				msg = msg[:200] + "..."
			}
			w("| %s | failed: `%s` | | | | ≥ 1.0x | **NOT MEASURED** |\n", pd.Pred, msg)
			continue
		}
		var ws, rs, xs []string
		for i, x := range pd.ratios() {
			ws = append(ws, fmtRPS(pd.Worker[i]))
			rs = append(rs, fmtRPS(pd.Ref[i]))
			xs = append(xs, fmt.Sprintf("%.2f", x))
		}
		m := median(pd.ratios())
		result := "PASS"
		if m < 1.0 {
			result = "**MISS**"
		}
		w("| %s | %s | %s | %s | %.2fx | ≥ 1.0x | %s |\n", pd.Pred, strings.Join(ws, ", "), strings.Join(rs, ", "), strings.Join(xs, ", "), m, result)
	}
}

// relativeTable writes the open loops at fractions of the reference's
// capacity, for the stacks that had a baseline.
func (rp *report) relativeTable(w func(string, ...any)) {
	var rows []*row
	for _, r := range rp.rows {
		if haveRel(r) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	w("\n### Latency at fractions of the reference's capacity\n\n")
	w("Open loop as above, at 0.5x and 0.8x the best closed-loop rows1 requests/s of the sync reference serving the same predictor, measured earlier in the same repetition (perf-anchors' protocol, 5.3): every stack of a predictor gets the same rates, whatever this machine's speed. Rates and latencies are medians over the repetitions.\n\n")
	w("| Stack | rates req/s | p50 / p99 / p99.9 ms at 0.5x | p50 / p99 / p99.9 ms at 0.8x | errors |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		sub := relRow(r)
		var rates []string
		for i := range relFractions {
			rates = append(rates, fmt.Sprintf("%.0f", sub.med(func(sm sample) float64 { return float64(sm.RelRates[i]) })))
		}
		w("| %s | %s |", r.s.name, strings.Join(rates, " / "))
		for i := range relFractions {
			p50 := sub.med(func(sm sample) float64 { return ms(sm.Rel[i].P50) })
			p99 := sub.med(func(sm sample) float64 { return ms(sm.Rel[i].P99) })
			p999 := sub.med(func(sm sample) float64 { return ms(sm.Rel[i].P999) })
			w(" %s / %s / %s |", fmtMs(p50), fmtMs(p99), fmtMs(p999))
		}
		errs := sub.med(func(sm sample) float64 {
			n := 0
			for _, res := range sm.Rel {
				n += res.Errors()
			}
			return float64(n)
		})
		w(" %.0f |\n", errs)
	}
}
