package serving

import (
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	addr              string
	metricsAddr       string
	maxBody           int64
	maxResponse       int64
	timeout           time.Duration
	queueTimeout      time.Duration
	bodyTimeout       time.Duration
	startupTimeout    time.Duration
	startupTimeoutSet bool
	shutdownTimeout   time.Duration
	concurrency       int
	queue             int
	multiModel        bool
	netHTTP           bool
	modelDir          string
	modelsDir         string
	execParams        optml.ExecutionParameters
	logger            *slog.Logger
	accessLog         *slog.Logger
	accessWriter      io.Writer
}

func defaultOptions() options {
	return options{
		addr:            ":8080",
		maxBody:         optml.MaxPayloadBytes,
		maxResponse:     maxResponseBytes,
		timeout:         optml.DefaultModelServerTimeoutSeconds * time.Second,
		startupTimeout:  optml.DefaultStartupTimeoutSeconds * time.Second,
		shutdownTimeout: 25 * time.Second,
		modelDir:        optml.At(optml.DefaultRoot).Model(),
		modelsDir:       optml.At(optml.DefaultRoot).Models(),
		logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// maxResponseBytes bounds what is read back from a worker process: batch
// transform allows payloads up to 100 MB, and a reply may be larger than its
// request.
const maxResponseBytes = 128 << 20

// WithAddr sets the listen address of Run. Default ":8080" (all interfaces).
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithMetricsAddr serves Prometheus metrics at /metrics on a second listener.
// Default "": no metrics listener.
func WithMetricsAddr(addr string) Option { return func(o *options) { o.metricsAddr = addr } }

// WithMaxBodyBytes sets the largest request body; a larger one gets 413.
// Default 6 MiB (6291456 bytes), InvokeEndpoint's limit.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithTimeout sets how long the handler may take over one request, counted
// from when the request got a handler slot (a worker); past it the caller
// gets 504 and a worker still busy with it is killed. Reading the body and
// waiting for a slot have bounds of their own (WithBodyTimeout,
// WithQueueTimeout). Default 60 s.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithQueueTimeout bounds how long a request waits for a free handler slot;
// past it the caller gets 503 with Retry-After: 1, and no worker is
// touched. Default: the request timeout (WithTimeout).
func WithQueueTimeout(d time.Duration) Option { return func(o *options) { o.queueTimeout = d } }

// WithBodyTimeout bounds how long the request body may take to arrive once
// its headers have; past it the caller gets 408. The body is read before
// the request is admitted, so a slow sender holds no slot meanwhile.
// Default: the request timeout (WithTimeout).
func WithBodyTimeout(d time.Duration) Option { return func(o *options) { o.bodyTimeout = d } }

// WithStartupTimeout bounds the handler's Load. Default 600 s.
func WithStartupTimeout(d time.Duration) Option {
	return func(o *options) { o.startupTimeout, o.startupTimeoutSet = d, true }
}

// StartupTimeout is the start-up timeout opts give the server, and whether
// one of them set it (false: the default). The runtime bounds what it does
// before the server starts (fetching code, installing requirements,
// starting workers) by the same value.
func StartupTimeout(opts ...Option) (time.Duration, bool) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o.startupTimeout, o.startupTimeoutSet
}

// WithShutdownTimeout bounds draining after Run's context ends. Default 25 s,
// inside SageMaker's 30 s between SIGTERM and SIGKILL.
func WithShutdownTimeout(d time.Duration) Option { return func(o *options) { o.shutdownTimeout = d } }

// WithConcurrency sets how many handler calls run at once. Default: the
// handler's own limit when it has a MaxConcurrency() int method (a worker
// pool: one per worker), otherwise 4 × GOMAXPROCS.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithQueue sets how many requests may wait for a free handler slot; past
// that the caller gets 503 at once. Default 128; a negative n means no
// queue. Memory held by admitted request bodies is at most (concurrency +
// queue) × the body limit; bodies still arriving are not admitted yet and
// hold what has arrived of them.
func WithQueue(n int) Option { return func(o *options) { o.queue = n } }

// WithMultiModel turns on the multi-model API (/models...); the handler
// must implement serve.MultiModelHandler. Default off.
func WithMultiModel(on bool) Option { return func(o *options) { o.multiModel = on } }

// WithModelDir sets the directory passed to the handler's Load. Default
// /opt/ml/model, or /opt/ml/models with WithMultiModel.
func WithModelDir(dir string) Option { return func(o *options) { o.modelDir = dir } }

// WithModelsDir sets the multi-model directory passed to Load with
// WithMultiModel. Default /opt/ml/models.
func WithModelsDir(dir string) Option { return func(o *options) { o.modelsDir = dir } }

// WithExecutionParameters sets what GET /execution-parameters returns; zero
// fields get the defaults described on optml.ExecutionParameters.
func WithExecutionParameters(p optml.ExecutionParameters) Option {
	return func(o *options) { o.execParams = p }
}

// WithLogger sets where the server reports start-up, load and shutdown.
// Default: discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAccessLog writes one line per request to l (method, path, status,
// bytes, duration). Default: none.
func WithAccessLog(l *slog.Logger) Option { return func(o *options) { o.accessLog = l } }

// WithAccessLogWriter writes one JSON line per request to w, each in one
// Write call: the line slog.NewJSONHandler(w, nil) would write for the
// fields of WithAccessLog, formatted without slog, which costs a fraction
// as much. Put a LineBuffer in front of a file or pipe so that lines are
// written in batches. It wins over WithAccessLog. Default: none.
func WithAccessLogWriter(w io.Writer) Option { return func(o *options) { o.accessWriter = w } }

// WithNetHTTP serves with Go's net/http server instead of the front's own
// connection loop (serving/internal/h1), which hands net/http only the
// connections whose requests it does not parse itself. Default: false.
func WithNetHTTP(on bool) Option { return func(o *options) { o.netHTTP = on } }

func defaultConcurrency() int { return 4 * runtime.GOMAXPROCS(0) }
