package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

type row struct {
	s       stack
	samples []sample
}

// ok returns the samples that completed.
func (r *row) ok() []sample {
	var out []sample
	for _, sm := range r.samples {
		if sm.Err == nil {
			out = append(out, sm)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// med is the median of f over the row's completed samples; NaN-free: 0
// when none completed.
func (r *row) med(f func(sample) float64) float64 {
	var v []float64
	for _, sm := range r.ok() {
		v = append(v, f(sm))
	}
	return median(v)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *row) rps(cell string) float64 {
	return r.med(func(sm sample) float64 { return sm.Closed[cell].RPS })
}

type report struct {
	c     config
	m     machine
	rows  []*row
	pairs []paired // worker mode and the reference in alternating cells
	parse []benchResult
	// floors are the predictors' Flask apps called in process.
	floors []floor
	// parses are in-process parses of the 6 MB CSV, each the fastest of
	// parseTries taken right after the CPUs were seen idle: one set at the
	// start and one before each stack of each repetition.
	parses  []time.Duration
	workers int
	wrk     bool // closed loops ran wrk, else the Go generator
	took    time.Duration
	at      time.Time
	// interrupted: the run was stopped and c.reps is the number of
	// repetitions that finished.
	interrupted bool
}

func (rp *report) row(key string) *row {
	for _, r := range rp.rows {
		if r.s.key == key {
			return r
		}
	}
	return nil
}

// reference returns the better reference for a predictor: the worker
// class with the higher requests/s at 16 connections, 1 row.
func (rp *report) reference(pred string) *row {
	a, b := rp.row("ref-sync-"+pred), rp.row("ref-gevent-"+pred)
	switch {
	case a == nil || len(a.ok()) == 0:
		return b
	case b == nil || len(b.ok()) == 0:
		return a
	case b.rps("rows1-c16") > a.rps("rows1-c16"):
		return b
	}
	return a
}

func firstBody(r *row) []byte {
	for _, sm := range r.ok() {
		return sm.Body100
	}
	return nil
}

func shorten(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func mb(b int64) float64 { return float64(b) / 1e6 }

func fmtRPS(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fmtMs prints milliseconds with three significant digits.
func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func (rp *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	c, m := rp.c, rp.m
	w("## Serving\n\n")
	w("`make bench-serving` runs every stack below side by side on one machine, one after another, and rewrites this section. ")
	w("The reference is AWS's scikit_bring_your_own serving stack built from Debian's packages: nginx in front of gunicorn in front of a Flask `predictor.py`, ")
	w("configured as that example configures it (`nginx.conf` with `client_max_body_size` raised from 5m to 6m; gunicorn on a unix socket, `-w %d --timeout 60`), ", rp.workers)
	w("once with sync and once with gevent workers; the better of the two by requests/s is \"the reference\". ")
	w("sagekit's worker mode serves the **same predictor.py files, unchanged**, through `SAGEKIT_WSGI_APP=predictor:app` with as many workers, with its defaults: the app loaded once in a fork server and the workers forked from it (gunicorn runs without `--preload`, as the example's `serve` script starts it), the Go front on one thread per four workers. ")
	w("The Go rows serve `serving.New` with an in-process `serve.Handler`: a no-op, and the same iris tree walked in Go from sklearn's `tree_` arrays. ")
	w("The bare net/http row is the physical limit of a Go HTTP server on this machine.\n\n")

	w("Run %s, took %s. Machine: %s, %d CPUs, %.0f GiB RAM, Linux %s, CPU governor %s; %s; %s. ",
		rp.at.Format("2006-01-02 15:04 UTC"), rp.took.Round(time.Second), m.CPU, m.Cores, m.MemGiB, m.Kernel, m.Governor, m.Go, strings.Join(m.Versions, "; "))
	w("**Load average at the start: %s** (the machine is shared; each row's load average when it started is in the tables)", m.LoadStart)
	if m.Nice != 0 {
		w("; the benchmark and every process it started ran at nice %d, so that other work on the machine disturbed it less", m.Nice)
	}
	w(".\n\n")
	w("Command: `%s`", c.command())
	if c.quick {
		w(" (**quick mode**: figures are rough)")
	}
	w(". Each stack is started fresh for each of %d repetition(s); tables give the median", c.reps)
	if rp.interrupted {
		w(" (**the run was interrupted**; these are the repetitions that finished)")
	}
	w(". ")
	w("Each load cell runs %s. Logs (nginx's access log, gunicorn's and sagekit's output) go to files in a tmpfs. The load generator shares the CPUs with the server (no pinning), so rows at tens of thousands of requests/s are partly limited by the generator.\n\n", c.cell)

	w("### Goals\n\nRatios are at 16 connections with the 1-row payload unless the goal says otherwise.\n\n")
	w("| Goal | Measured | Target | Result |\n|---|---|---|---|\n")
	miss := 0
	for _, g := range rp.goals() {
		w("| %s | %s | %s | %s |\n", g.what, g.measured, g.target, g.result())
		if !g.pass {
			miss++
		}
	}
	if miss > 0 {
		w("\n**%d goal(s) missed or not measured in this run.**\n", miss)
	}

	gen := "wrk"
	if !rp.wrk {
		gen = "the Go closed-loop generator (wrk is not installed)"
	}
	w("\n### Requests/s, closed loop (%s, keep-alive)\n\n", gen)
	w("POST /invocations, text/csv. `rows1` is one 16-byte row; `rows100` is 100 rows (1.6 KB). Errors are non-2xx responses plus socket errors over all closed-loop cells.\n\n")
	w("| Stack | load avg | rows1 c=1 | rows1 c=16 | rows1 c=64 | rows100 c=16 | p50 / p99 ms, rows1 c=16 | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rp.rows {
		w("| %s | %s |", r.s.name, rp.loads(r))
		if len(r.ok()) == 0 {
			w(" failed | | | | | |\n")
			continue
		}
		for _, cl := range closedCells {
			w(" %s |", fmtRPS(r.rps(cl.key)))
		}
		p50 := r.med(func(sm sample) float64 { return ms(sm.Closed["rows1-c16"].P50) })
		p99 := r.med(func(sm sample) float64 { return ms(sm.Closed["rows1-c16"].P99) })
		errs := r.med(func(sm sample) float64 {
			n := 0
			for _, res := range sm.Closed {
				n += res.Errors()
			}
			return float64(n)
		})
		w(" %s / %s | %.0f |\n", fmtMs(p50), fmtMs(p99), errs)
	}

	rp.pairedTable(w)

	w("\n### Server CPU time per request\n\n")
	w("User plus system CPU time of the server's processes over the rows1 c=16 cell (from `/proc/PID/stat`, read before and after the cell), divided by the requests answered in it; median of the repetitions. The front is nginx or sagekit-runtime (or the Go server); the workers are gunicorn's processes or sagekit's Python workers. On 2 CPUs shared with the load generator, requests/s at saturation is about 2 CPU-seconds divided by this cost plus the generator's, so the cost ratio is the throughput ratio the machine converges to, and it moves less than requests/s with other load on a shared machine.\n\n")
	w("| Stack | front µs | workers µs | total µs | total vs the reference |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rp.rows {
		if len(r.ok()) == 0 {
			w("| %s | failed | | | |\n", r.s.name)
			continue
		}
		f := r.med(func(sm sample) float64 { v, _, _ := cpuPerReq(sm); return v })
		wk := r.med(func(sm sample) float64 { _, v, _ := cpuPerReq(sm); return v })
		t := r.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
		vs := ""
		if ref := rp.reference(r.s.pred); ref != nil && len(ref.ok()) > 0 {
			rt := ref.med(func(sm sample) float64 { _, _, v := cpuPerReq(sm); return v })
			vs = fmt.Sprintf("%.2fx", ratio(t, rt))
		}
		w("| %s | %.0f | %.0f | %.0f | %s |\n", r.s.name, f, wk, t, vs)
	}

	rp.floorTable(w)
	rp.frontTable(w)

	w("\n### Latency at fixed rates, /ping under load, start-up, memory, 6 MB payloads\n\n")
	w("Open loop: a Go generator sends rows1 at a constant rate from at most %d keep-alive connections and measures from each request's scheduled send time. ", openPool)
	w("/ping under load: GET /ping every 10 ms on its own connection while %s keeps 64 connections of rows1 on /invocations. ", gen)
	w("Start: from starting the process(es) to the first 200 on /ping (the reference's first /ping also unpickles the model, as the example does). ")
	w("PSS: summed `Pss` of `/proc/PID/smaps_rollup` over every process of the stack, at idle after a warm-up that reaches every worker. ")
	w("6 MB: %d sequential posts of 375,000 rows (6,000,000 bytes), median; then one post of 6 MiB + 1 byte, whose status is shown.\n\n", c.bigPosts)
	w("| Stack | p50 / p99 ms at 200/s | p50 / p99 ms at 1,000/s | open-loop errors | /ping p50 / p99 ms under load | start ms | PSS MB (procs) | 6 MB ms | 6 MiB+1 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rp.rows {
		w("| %s |", r.s.name)
		if len(r.ok()) == 0 {
			w(" failed: %s | | | | | | | |\n", firstErr(r))
			continue
		}
		for _, rate := range openRates {
			p50 := r.med(func(sm sample) float64 { return ms(sm.Open[rate].P50) })
			p99 := r.med(func(sm sample) float64 { return ms(sm.Open[rate].P99) })
			w(" %s / %s |", fmtMs(p50), fmtMs(p99))
		}
		oerr := r.med(func(sm sample) float64 {
			n := 0
			for _, res := range sm.Open {
				n += res.Errors()
			}
			return float64(n)
		})
		pp50 := r.med(func(sm sample) float64 { return ms(sm.PingSat.P50) })
		pp99 := r.med(func(sm sample) float64 { return ms(sm.PingSat.P99) })
		start := r.med(func(sm sample) float64 { return ms(sm.Start) })
		pss := r.med(func(sm sample) float64 { return mb(sm.PSSIdle) })
		procs := r.med(func(sm sample) float64 { return float64(sm.Procs) })
		big := r.med(func(sm sample) float64 { return ms(sm.Big.P50) })
		bigErr := r.med(func(sm sample) float64 { return float64(sm.Big.Errors()) })
		w(" %.0f | %s / %s | %s | %.1f (%.0f) | %s", oerr, fmtMs(pp50), fmtMs(pp99), fmtMs(start), pss, procs, fmtMs(big))
		if bigErr > 0 {
			w(" (%.0f failed)", bigErr)
		}
		over := "reset"
		if st := r.ok()[0].Over; st != 0 {
			over = strconv.Itoa(st)
		}
		w(" | %s |\n", over)
	}

	rp.relativeTable(w)

	w("\n### Payload parsing\n\n")
	best, median := parseStats(rp.parses)
	w("`go test -run '^$' -bench 6MB -benchtime 5x -count %s ./sdk/payload` in the same run, best of the %[1]s runs (each the mean of 5 parses; one goroutine): ", benchCount(c))
	w("the 6 MB CSV above parsed to float64s, and the same rows as `{\"instances\": [[...]]}` JSON (6.6 MB). For scale, perf-anchors measured pandas.read_csv at 43 ms and Python's json.loads at 164 ms on this payload. The goal above uses in-process `payload.ParseCSV` calls in the benchmark itself, in %d sets of %d spread over the run (one at the start, one before each stack), each set taken %s: the fastest parse was %s ms, the median of the sets' fastest %s ms. Twenty calls back to back fit in well under a second, so one burst of other work on a shared machine can slow every one of them; sets spread over the run cannot all fall into one.\n\n", len(rp.parses), parseTries, idleNote(c), fmtMs(ms(best)), fmtMs(ms(median)))
	w("| Benchmark | ms per payload | MB/s |\n|---|---:|---:|\n")
	for _, p := range rp.parse {
		w("| %s | %s | %.0f |\n", p.Name, fmtMs(p.NsOp/1e6), p.MBs)
	}

	w("\n### Failures\n\n")
	failed := false
	for _, r := range rp.rows {
		for i, sm := range r.samples {
			if sm.Err != nil {
				failed = true
				msg := strings.ReplaceAll(strings.TrimSpace(sm.Err.Error()), "\n", " ⏎ ")
				if len(msg) > 600 {
					msg = msg[:600] + "..."
				}
				w("- %s, repetition %d: `%s`\n", r.s.name, i+1, msg)
			}
		}
	}
	if !failed {
		w("None: every stack started and answered every cell in every repetition.\n")
	}
	return b.String()
}

func (rp *report) loads(r *row) string {
	var l []string
	for _, sm := range r.samples {
		f := strings.Fields(sm.Load)
		if len(f) > 0 {
			l = append(l, f[0])
		}
	}
	return strings.Join(l, ", ")
}

func firstErr(r *row) string {
	for _, sm := range r.samples {
		if sm.Err != nil {
			s := strings.ReplaceAll(strings.TrimSpace(sm.Err.Error()), "\n", " ")
			if len(s) > 200 {
				s = s[:200] + "..."
			}
			return "`" + s + "`"
		}
	}
	return ""
}

// parseStats returns the fastest parse and the median of the sets.
func parseStats(d []time.Duration) (best, median time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[0], s[len(s)/2]
}

// idleNote says when the parse sets were taken.
func idleNote(c config) string {
	if c.idleWait <= 0 {
		return "without waiting for idle CPUs (quick mode)"
	}
	return fmt.Sprintf("after waiting up to %s for the CPUs to be at least 90%% idle, as each stack does", c.idleWait)
}
