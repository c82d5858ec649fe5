package worker

import (
	"io"
	"log/slog"
	"runtime"
	"time"
)

// Option configures a Pool.
type Option func(*options)

type options struct {
	workers      int
	gpus         []string
	env          []string
	dir          string
	socketDir    string
	stdout       io.Writer
	stderr       io.Writer
	logger       *slog.Logger
	readyTimeout time.Duration
	minBackoff   time.Duration
	maxBackoff   time.Duration
	maxResponse  int64
	forkServer   bool
}

func defaultOptions() options {
	return options{
		stdout:       io.Discard,
		stderr:       io.Discard,
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		readyTimeout: 600 * time.Second,
		minBackoff:   100 * time.Millisecond,
		maxBackoff:   10 * time.Second,
		maxResponse:  128 << 20,
	}
}

// WithWorkers sets how many worker processes run. Default: one per GPU
// given to WithGPUs, else one per CPU (runtime.NumCPU).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithGPUs pins worker i to GPU ids[i mod len(ids)] through
// CUDA_VISIBLE_DEVICES, and makes the default worker count len(ids).
// Default none: workers see the environment's GPUs unchanged.
func WithGPUs(ids []string) Option { return func(o *options) { o.gpus = ids } }

// WithEnv sets the workers' base environment ("KEY=value" entries), to which
// SAGEKIT_WORKER_SOCKET, SAGEKIT_WORKER_ID, SAGEKIT_MODEL_DIR and, with GPUs,
// CUDA_VISIBLE_DEVICES are added. Default: this process's environment.
func WithEnv(env []string) Option { return func(o *options) { o.env = env } }

// WithDir sets the workers' working directory. Default: this process's.
func WithDir(dir string) Option { return func(o *options) { o.dir = dir } }

// WithSocketDir sets where the unix sockets live. Default: a new directory
// under the system temporary directory, removed by Close. Socket paths must
// stay under 108 bytes.
func WithSocketDir(dir string) Option { return func(o *options) { o.socketDir = dir } }

// WithOutput sets where the workers' standard output and error go, whole
// line by whole line. Default: discarded.
func WithOutput(stdout, stderr io.Writer) Option {
	return func(o *options) { o.stdout, o.stderr = stdout, stderr }
}

// WithLogger sets where starts, exits and restarts are reported. Default:
// discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithReadyTimeout bounds how long a restarted worker may take to answer
// /ping with 200 before it is killed and tried again. (The first start is
// bounded by the context given to Load.) Default 600 s.
func WithReadyTimeout(d time.Duration) Option { return func(o *options) { o.readyTimeout = d } }

// WithBackoff sets the restart delays: the first restart waits min, each
// further quick failure doubles it up to max. Default 100 ms and 10 s.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = min, max }
}

// WithForkServer says that the command is a fork server: it loads the
// model once, then forks each worker when the pool asks (see forkserver.go
// for the protocol), so workers share the loaded model's memory. The pool
// supervises the forked workers as it does started ones. Default off: the
// command is run once per worker.
func WithForkServer() Option { return func(o *options) { o.forkServer = true } }

func (o *options) count() int {
	switch {
	case o.workers > 0:
		return o.workers
	case len(o.gpus) > 0:
		return len(o.gpus)
	}
	return runtime.NumCPU()
}
