package entrypoint

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/runtime/s3get"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/serving"
	"github.com/sagekit/sagekit/serving/python"
	"github.com/sagekit/sagekit/serving/worker"
)

// serveOptions is everything `sagekit-runtime serve` needs, read from the
// environment and flags at the edge.
type serveOptions struct {
	command    []string // worker argv
	workers    int
	ready      time.Duration // how long a restarted worker may take to be ready
	gpus       []string
	python     string
	wsgiApp    string
	handler    string
	server     []serving.Option
	stdout     io.Writer
	stderr     io.Writer
	accessLog  io.Writer // one JSON line per request
	preload    bool      // fork the Python adapter's workers from one process
	scriptsDir string
	codeDir    string // the model's code directory (inference-toolkit mode)
	adapter    string // a Python adapter file used instead of the embedded one
	// In inference-toolkit mode, SAGEMAKER_SUBMIT_DIRECTORY's s3:// URI,
	// downloaded into codeDir at start, and what picks the module then.
	fetch       string
	s3          s3get.Config
	limits      extract.Limits // SAGEKIT_MAX_EXTRACT_*
	imageModule string         // SAGEKIT_HANDLER
	program     string         // SAGEMAKER_PROGRAM
}

func runServe(ctx context.Context, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// One JSON line per request and event on stdout, written in batches.
	out := serving.NewLineBuffer(os.Stdout, 0)
	defer out.Flush()
	log := slog.New(slog.NewJSONHandler(out, nil))
	opts, err := serveOptionsFromEnv(ctx, args, os.LookupEnv)
	if err != nil {
		log.Error("sagekit-runtime serve: " + err.Error())
		return 2
	}
	// Workers' standard output joins the batches; their errors are written unbatched.
	opts.stdout, opts.stderr, opts.accessLog = out, os.Stderr, out
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(frontProcs(opts.workerCount(), runtime.GOMAXPROCS(0)))
	}
	if err := serve(ctx, log, opts); err != nil {
		log.Error("sagekit-runtime serve: " + err.Error())
		return 1
	}
	return 0
}

// workerCount is the number of workers the pool will run.
func (o serveOptions) workerCount() int {
	switch {
	case o.workers > 0:
		return o.workers
	case len(o.gpus) > 0:
		return len(o.gpus)
	}
	return runtime.NumCPU()
}

// frontProcs is how many threads the Go front of a worker pool runs Go code
// on (GOMAXPROCS): one for every four workers, at most procs. The workers
// need the CPUs; the front only passes requests on, and threads of its own
// beyond what it needs would spin looking for work and wake each other on
// the CPUs the workers use. On two CPUs with two workers this alone cut the
// front's CPU time per request by about a quarter. nginx in AWS's example
// runs one worker process on any machine.
func frontProcs(workers, procs int) int {
	return max(1, min(procs, (workers+3)/4))
}

func serveOptionsFromEnv(ctx context.Context, args []string, lookup func(string) (string, bool)) (serveOptions, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	var o serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	metricsPort := fs.String("metrics-port", get(optml.EnvMetricsPort), "serve Prometheus metrics on this port, or \"auto\" (env "+optml.EnvMetricsPort+")")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	server, err := serving.OptionsFromEnv(func(k string) (string, bool) {
		if k == optml.EnvMetricsPort {
			return *metricsPort, *metricsPort != ""
		}
		return lookup(k)
	})
	if err != nil {
		errs = append(errs, err)
	}
	o.server = server

	o.wsgiApp, o.handler = get(optml.EnvWSGIApp), get(optml.EnvHandler)
	o.python = get(optml.EnvPython)
	if o.python == "" {
		o.python = "python3"
	}
	cmdLine := get(optml.EnvWorkerCommand)
	paths := optml.FromLookup(lookup)
	o.codeDir, o.adapter = paths.ModelCode(), get(optml.EnvPythonAdapter)
	if o.wsgiApp == "" && cmdLine == "" {
		// Inference-toolkit mode (toolkit.go): the model's code can choose
		// the module.
		o.imageModule, o.program = o.handler, get(optml.EnvProgram)
		o.codeDir, o.fetch = submitDirectory(get(optml.EnvSubmitDirectory), o.codeDir, paths.Code())
		if o.fetch != "" {
			o.s3 = s3Config(get)
			if o.limits, err = extract.LimitsFromEnv(get); err != nil {
				errs = append(errs, err)
			}
		}
		o.handler = handlerModule(o.codeDir, o.imageModule, o.program)
		if o.handler == "" && o.fetch != "" {
			// The code to come may hold inference.py; fetchCode decides.
			o.handler = defaultToolkitModule
		}
	}
	set := 0
	for _, v := range []string{o.wsgiApp, o.handler, cmdLine} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		errs = append(errs, fmt.Errorf("nothing to serve: set %s=module:app (a WSGI app such as a Flask predictor), %s=module (inference.py functions) or %s=\"program args\" (any program serving HTTP on $%s)",
			optml.EnvWSGIApp, optml.EnvHandler, optml.EnvWorkerCommand, optml.EnvWorkerSocket))
	case set > 1:
		errs = append(errs, fmt.Errorf("set only one of %s, %s and %s", optml.EnvWSGIApp, optml.EnvHandler, optml.EnvWorkerCommand))
	case cmdLine != "":
		if o.command, err = worker.SplitCommand(cmdLine); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", optml.EnvWorkerCommand, err))
		}
	}
	if v := get(optml.EnvModelServerWorkers); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number above 0", optml.EnvModelServerWorkers, v))
		}
		o.workers = n
	}
	// The start-up timeout serving.OptionsFromEnv read bounds the workers'
	// readiness too.
	if d, ok := serving.StartupTimeout(o.server...); ok {
		o.ready = d
	}
	o.gpus = worker.GPUs(ctx, get("CUDA_VISIBLE_DEVICES"))
	// Workers pinned to GPUs start as interpreters of their own: a CUDA
	// context does not survive fork, and an app may create one on import.
	// Handler modules (framework models: PyTorch, TensorFlow, XGBoost)
	// are forked only when asked: a model whose loading started OpenMP or
	// other threads may hang in a forked child, which is why the toolkit's
	// own model servers never fork after loading.
	switch v := get(optml.EnvPreload); v {
	case "":
		o.preload = len(o.gpus) == 0 && o.wsgiApp != ""
	case "true":
		o.preload = len(o.gpus) == 0
	case "false":
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want true or false", optml.EnvPreload, v))
	}
	return o, errors.Join(errs...)
}

func serve(ctx context.Context, log *slog.Logger, o serveOptions) error {
	if o.fetch != "" {
		if err := fetchCode(ctx, log, &o); err != nil {
			return err
		}
	}
	if o.command == nil {
		dir, err := os.MkdirTemp("", "sagekit-py")
		if err != nil {
			return fmt.Errorf("creating a directory for the Python adapter: %w", err)
		}
		defer os.RemoveAll(dir)
		script, err := python.Install(dir)
		if err != nil {
			return err
		}
		if o.adapter != "" {
			script = o.adapter
		}
		if o.wsgiApp != "" {
			o.command = python.WSGICommand(o.python, script, o.wsgiApp)
		} else {
			o.command = python.HandlerCommand(o.python, script, o.handler)
		}
	} else {
		o.preload = false // a generic worker command is run once per worker
	}
	wopts := []worker.Option{worker.WithOutput(o.stdout, o.stderr), worker.WithLogger(log)}
	if o.preload {
		o.command = python.ForkServer(o.command)
		wopts = append(wopts, worker.WithForkServer())
	}
	if o.workers > 0 {
		wopts = append(wopts, worker.WithWorkers(o.workers))
	}
	if o.ready > 0 {
		wopts = append(wopts, worker.WithReadyTimeout(o.ready))
	}
	if len(o.gpus) > 0 {
		wopts = append(wopts, worker.WithGPUs(o.gpus))
	}
	if o.handler != "" {
		timeout := o.ready
		if timeout <= 0 {
			timeout = 600 * time.Second
		}
		if err := installRequirements(ctx, log, o, timeout); err != nil {
			return err
		}
		wopts = append(wopts, worker.WithEnv(o.env()))
	}
	pool, err := worker.New(o.command, wopts...)
	if err != nil {
		return err
	}
	access := serving.WithAccessLog(log)
	if o.accessLog != nil {
		access = serving.WithAccessLogWriter(o.accessLog)
	}
	s := serving.New(pool, append(o.server, serving.WithLogger(log), access)...)
	return s.Run(ctx)
}
