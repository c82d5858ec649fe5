package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/bench/load"
)

func TestReplaceSection(t *testing.T) {
	const sec = "## Serving\n\nnew table\n"
	tests := []struct{ name, doc, want string }{
		{"no file", "", "# Benchmarks\n\n## Serving\n\nnew table\n"},
		{"no section", "# Benchmarks\n\n## Build\n\nbuild table\n", "# Benchmarks\n\n## Build\n\nbuild table\n\n## Serving\n\nnew table\n"},
		{"last section", "# B\n\n## Build\n\nx\n\n## Serving\n\nold\n", "# B\n\n## Build\n\nx\n\n## Serving\n\nnew table\n"},
		{"middle section", "# B\n\n## Serving\n\nold\n### sub\nold\n\n## Training\n\nkeep\n",
			"# B\n\n## Serving\n\nnew table\n\n## Training\n\nkeep\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replaceSection(tt.doc, "## Serving", sec); got != tt.want {
				t.Errorf("replaceSection(%q) =\n%q\nwant\n%q", tt.doc, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{fmtRPS(77852.4), "77,852"}, {fmtRPS(999), "999"}, {fmtRPS(1234567), "1,234,567"},
		{fmtMs(0.0564), "0.056"}, {fmtMs(7.391), "7.39"}, {fmtMs(43.21), "43.2"}, {fmtMs(1603.4), "1603"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median(3,1,2) = %v, want 2", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median(4,1,2,3) = %v, want 2.5", m)
	}
}

func TestBaseFor(t *testing.T) {
	closed := func(c1, c16, c100 float64) sample {
		return sample{Closed: map[string]load.Result{"rows1-c1": {RPS: c1}, "rows1-c16": {RPS: c16}, "rows100-c16": {RPS: c100}}}
	}
	syncTree := &row{s: stack{key: "ref-sync-tree", kind: kindRef, class: "sync", pred: "tree"},
		samples: []sample{closed(300, 800, 900), {Err: errors.New("failed")}}}
	syncNoop := &row{s: stack{key: "ref-sync-noop", kind: kindRef, class: "sync", pred: "noop"},
		samples: []sample{closed(3000, 8000, 7000)}}
	worker := stack{key: "worker-tree", kind: kindWorker, pred: "tree"}
	rows := []*row{syncNoop, syncTree}
	if got := capacity(syncTree.samples[0]); got != 800 {
		t.Errorf("capacity = %v, want 800 (the best rows1 cell; rows100 does not count)", got)
	}
	if got := baseFor(rows, worker, 0); got != 800 {
		t.Errorf("baseFor(worker-tree, rep 0) = %v, want the tree baseline's 800", got)
	}
	if got := baseFor(rows, worker, 1); got != 0 {
		t.Errorf("baseFor(worker-tree, rep 1) = %v, want 0: the baseline failed", got)
	}
	if got := baseFor(rows, syncTree.s, 0); got != 0 {
		t.Errorf("baseFor(the baseline) = %v, want 0: it measures its own", got)
	}
	if got := baseFor([]*row{syncNoop}, worker, 0); got != 0 {
		t.Errorf("baseFor without a tree baseline = %v, want 0", got)
	}
}

func TestGoalsFrontAndPairs(t *testing.T) {
	// CPU readings of one sample: front and workers over each rows1 cell of
	// 1,000 requests, so microseconds per request are the milliseconds.
	sampleWith := func(front, workers time.Duration) sample {
		sm := sample{Closed: map[string]load.Result{}, CPU: map[string]cpuSplitTimes{}}
		for _, key := range frontCells {
			sm.Closed[key] = load.Result{Requests: 1000, RPS: 1000}
			sm.CPU[key] = cpuSplitTimes{Front: front, Workers: workers}
		}
		sm.CPUFront, sm.CPUWorkers = front, workers
		return sm
	}
	worker := &row{s: stack{key: "worker-noop", name: "w", kind: kindWorker, pred: "noop"},
		samples: []sample{sampleWith(50*time.Millisecond, 200*time.Millisecond)}}
	ref := &row{s: stack{key: "ref-sync-noop", name: "r", kind: kindRef, class: "sync", pred: "noop"},
		samples: []sample{sampleWith(60*time.Millisecond, 400*time.Millisecond)}}
	rp := &report{rows: []*row{ref, worker}, pairs: []paired{{Pred: "noop", Worker: []float64{90, 110, 120, 100, 95}, Ref: []float64{100, 100, 100, 100, 100}}}}
	results := map[string]string{}
	for _, g := range rp.goals() {
		results[g.what] = g.result() + " " + g.measured
	}
	want := map[string]string{
		"w: front CPU per request vs nginx's, c=1":                           "PASS 0.83x (50 vs 60 µs)",
		"w: front CPU per request vs nginx's, c=64":                          "PASS 0.83x (50 vs 60 µs)",
		"w vs the sync reference, rps, median of 5 paired alternating cells": "PASS 1.00x (100 vs 100 rps; pairs 0.90–1.20x)",
	}
	// 0.54x is under the no-op's 0.7x.
	want["w: server CPU per request vs the reference"] = "PASS 0.54x (250 vs 460 µs)"
	for what, w := range want {
		if got := results[what]; got != w {
			t.Errorf("goal %q = %q, want %q", what, got, w)
		}
	}
	// A front over nginx's misses.
	worker.samples[0].CPU["rows1-c16"] = cpuSplitTimes{Front: 70 * time.Millisecond}
	for _, g := range rp.goals() {
		if g.what == "w: front CPU per request vs nginx's, c=16" && (g.pass || g.measured != "1.17x (70 vs 60 µs)") {
			t.Errorf("front at c=16 over nginx's: %s %s, want a miss at 1.17x", g.result(), g.measured)
		}
	}
}

func TestFloorTable(t *testing.T) {
	sm := sample{Closed: map[string]load.Result{cpuCell: {Requests: 1000}}, CPUFront: 60 * time.Millisecond, CPUWorkers: 100 * time.Millisecond}
	ref := sample{Closed: map[string]load.Result{cpuCell: {Requests: 1000}}, CPUFront: 80 * time.Millisecond, CPUWorkers: 220 * time.Millisecond}
	rp := &report{
		rows: []*row{
			{s: stack{key: "worker-noop", kind: kindWorker, pred: "noop"}, samples: []sample{sm}},
			{s: stack{key: "ref-sync-noop", kind: kindRef, class: "sync", pred: "noop"}, samples: []sample{ref}},
		},
		floors: []floor{{Pred: "noop", App: 40, Handle: 47.5, Load: "1.50 1.20 1.00"}, {Pred: "tree", Err: errors.New("no sklearn")}},
	}
	var b strings.Builder
	rp.floorTable(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) })
	// 0.7 × (80 + 220) − 100 = 110 µs are left to the front.
	for _, want := range []string{
		"| noop | 1.50 | 40.0 | 47.5 | 100 | 40% | 220 | 110 (0.7x of 300, less 100) |\n",
		"| tree |  | failed: `no sklearn` |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("floorTable() =\n%s\nwant a line with %q", b.String(), want)
		}
	}
}
