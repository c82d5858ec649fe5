package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// floorScript calls a predictor.py's Flask app in process (see its
// docstring).
//
//go:embed floor.py
var floorScript []byte

// floor is the CPU time per request that no server can take from a
// Python worker: the Flask app called in process, and the same request
// through the adapter's handle() without a socket.
type floor struct {
	Pred        string
	App         float64 // µs per app(environ, start_response) call
	AppCalls    int     // calls in the fastest set
	Handle      float64 // µs per server.handle(conn, app) call
	HandleCalls int
	Load        string // /proc/loadavg before it ran
	Err         error  `json:"-"`
}

// floorSets gives the sets, the most calls of one set and the CPU seconds
// one set may take.
func floorSets(c config) (sets, calls int, budget float64) {
	if c.quick {
		return 2, 20000, 0.5
	}
	return 5, 20000, 2
}

// measureFloor runs floor.py with Debian's python on pred's predictor.py.
func (e *env) measureFloor(ctx context.Context, c config, pred string) floor {
	f := floor{Pred: pred}
	adapter, err := filepath.Abs(filepath.Join("serving", "python"))
	if err != nil {
		f.Err = err
		return f
	}
	script := filepath.Join(e.l.Dir, "floor.py")
	if err := os.WriteFile(script, floorScript, 0o644); err != nil {
		f.Err = err
		return f
	}
	dir := e.l.NoopDir
	if pred == "tree" {
		dir = e.l.TreeDir
	}
	sets, calls, budget := floorSets(c)
	waitIdle(ctx, c.idleWait)
	f.Load = loadavg()
	cmd := exec.CommandContext(ctx, python, script, adapter, "predictor:app", fmt.Sprint(calls), fmt.Sprint(sets), fmt.Sprint(budget))
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, e.base(), 5*time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		f.Err = fmt.Errorf("%s %s: %w: %s", python, script, err, stderr.Bytes())
		return f
	}
	var res struct {
		AppUS       float64 `json:"app_us"`
		AppCalls    int     `json:"app_calls"`
		HandleUS    float64 `json:"handle_us"`
		HandleCalls int     `json:"handle_calls"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		f.Err = fmt.Errorf("reading floor.py's answer %q: %w", out, err)
		return f
	}
	f.App, f.AppCalls, f.Handle, f.HandleCalls = res.AppUS, res.AppCalls, res.HandleUS, res.HandleCalls
	return f
}

// floorTable writes the floor beside the worker-mode rows' CPU per
// request.
func (rp *report) floorTable(w func(string, ...any)) {
	if len(rp.floors) == 0 {
		return
	}
	sets, calls, budget := floorSets(rp.c)
	w("\n### Flask app called in process, CPU per request\n\n")
	w("The floor of the workers' column above: the same `predictor.py` app called in one process with `app(environ, start_response)`, the 1-row POST /invocations text/csv environ the adapter builds, no server, socket or other process; then the same request through the adapter's `handle()` on a socket object that hands the request out and drops the answer. ")
	w("CPU time (`time.process_time`) per call, the fastest of %d sets of at most %d calls or %.1f CPU-seconds each, after 200 calls of warm-up, in Debian's python with the CPUs first seen idle. ", sets, calls, budget)
	w("No server can take the app's share from a worker; what the workers cost beyond the in-process `handle()` is the system calls, the scheduling and the cache misses of one request at a time across processes. The last column is what the goal on the whole stack's CPU per request leaves the front: the goal's ratio times the reference's total, less worker mode's workers.\n\n")
	w("| Predictor | load avg | app in process µs | through handle() µs | worker mode's workers µs, rows1 c=16 | app's share of them | reference's workers µs | front's budget at the goal µs |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range rp.floors {
		if f.Err != nil {
			msg := f.Err.Error()
			if len(msg) > 200 {
				msg = msg[:200] + "..."
			}
			w("| %s | %s | failed: `%s` | | | | | |\n", f.Pred, firstField(f.Load), msg)
			continue
		}
		workers, share, ref, budget := "", "", "", ""
		wk := 0.0
		if r := rp.row("worker-" + f.Pred); r != nil && len(r.ok()) > 0 {
			wk = r.med(func(sm sample) float64 { _, v, _ := cpuPerReq(sm); return v })
			workers = fmt.Sprintf("%.0f", wk)
			if wk > 0 {
				share = fmt.Sprintf("%.0f%%", 100*f.App/wk)
			}
		}
		if r := rp.reference(f.Pred); r != nil && len(r.ok()) > 0 {
			ref = fmt.Sprintf("%.0f", r.med(func(sm sample) float64 { _, v, _ := cpuPerReq(sm); return v }))
			total := r.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
			if wk > 0 && total > 0 {
				budget = fmt.Sprintf("%.0f (%gx of %.0f, less %.0f)", cpuLimit[f.Pred]*total-wk, cpuLimit[f.Pred], total, wk)
			}
		}
		w("| %s | %s | %.1f | %.1f | %s | %s | %s | %s |\n", f.Pred, firstField(f.Load), f.App, f.Handle, workers, share, ref, budget)
	}
}

func firstField(s string) string {
	for i, r := range s {
		if r == ' ' {
			return s[:i]
		}
	}
	return s
}
