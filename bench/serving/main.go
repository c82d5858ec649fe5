// Command serving is sagekit's serving benchmark (make bench-serving): it
// runs the reference stack (nginx + gunicorn + Flask from Debian's packages,
// AWS's scikit_bring_your_own shape), sagekit's worker mode serving the same
// predictor.py files, sagekit with Go handlers and a bare net/http server,
// side by side on this machine, prints a table and writes it into the
// "## Serving" section of docs/benchmarks.md.
//
//	go run ./bench/serving [-quick] [-reps N] [-d DURATION] [-doc FILE]
//
// Run it from the module root. It installs the Debian packages it needs when
// they are missing and it runs as root. Every process it starts is killed
// before it returns. Interrupted (SIGINT, SIGTERM), it stops the stack it is
// measuring and reports the repetitions it finished.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type config struct {
	quick    bool
	reps     int
	cell     time.Duration // each closed-loop, open-loop and saturation cell
	bigPosts int           // sequential 6 MB posts per stack
	idleWait time.Duration // longest wait for the CPUs to go quiet before a stack
	settle   time.Duration // idle time before the idle PSS is read
	doc      string        // "" writes no document
	keep     bool          // keep the run directory
	only     string        // comma-separated stack keys, for debugging
	args     []string      // the command line, for the report
}

func main() {
	var c config
	flag.BoolVar(&c.quick, "quick", os.Getenv("BENCH_QUICK") != "", "quick mode: 1 repetition of 1 s cells (also BENCH_QUICK=1)")
	flag.IntVar(&c.reps, "reps", 3, "repetitions of every stack (median reported)")
	flag.DurationVar(&c.cell, "d", 3*time.Second, "duration of each load cell")
	flag.StringVar(&c.doc, "doc", "docs/benchmarks.md", "document whose \"## Serving\" section is replaced (\"\" for none)")
	flag.BoolVar(&c.keep, "keep", false, "keep the run directory (logs, configs, fixtures)")
	flag.StringVar(&c.only, "only", "", "run only these stacks (comma-separated keys), for debugging; the document is not written")
	flag.Parse()
	c.bigPosts, c.idleWait, c.settle = 5, 3*time.Second, 2*time.Second
	if c.quick {
		c.reps, c.cell, c.bigPosts, c.idleWait, c.settle = 1, time.Second, 3, 0, time.Second
	}
	if c.only != "" && !flagSet("doc") {
		c.doc = ""
	}
	c.args = os.Args[1:]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench-serving:", err)
		os.Exit(1)
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func (c config) command() string {
	s := "go run ./bench/serving"
	if len(c.args) > 0 {
		s += " " + strings.Join(c.args, " ")
	}
	if c.quick && os.Getenv("BENCH_QUICK") != "" {
		s = "BENCH_QUICK=1 " + s
	}
	return s
}
