package conformance

import (
	"log/slog"
	"maps"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/platform"
)

// Windows are the time limits the suite applies. The defaults are
// SageMaker's; tests of the suite itself shorten them.
type Windows struct {
	// StartupTimeout is the deadline for the first 200 from /ping
	// (SageMaker: 4 min by default, ContainerStartupHealthCheckTimeoutInSeconds).
	StartupTimeout time.Duration
	// PingTimeout is the limit of each /ping (SageMaker: 2 s).
	PingTimeout time.Duration
	// InvocationTimeout is the limit of each /invocations (SageMaker: 60 s).
	InvocationTimeout time.Duration
	// TrainingGrace is SIGTERM→SIGKILL for training (SageMaker: 120 s).
	TrainingGrace time.Duration
	// HostingGrace is SIGTERM→SIGKILL for hosting (SageMaker: 30 s).
	HostingGrace time.Duration
	// TrainingTimeout stops a training run that takes longer (default 15 min).
	TrainingTimeout time.Duration
	// SigtermAfter is when the SIGTERM run is stopped, counted from the
	// program's first output (default 100 ms, so that even quick training
	// programs are still running). Counted from the start, SIGTERM could
	// reach PID 1 before it handles the signal, and the kernel drops it.
	SigtermAfter time.Duration
	// SigtermSilent is when the SIGTERM run of a program that has printed
	// nothing is stopped, counted from the start (default 5 s).
	SigtermSilent time.Duration
	// PeerDelay is how much later algo-2 starts than algo-1 (default 2 s).
	PeerDelay time.Duration
}

// DefaultWindows returns SageMaker's limits.
func DefaultWindows() Windows {
	return Windows{
		StartupTimeout:    4 * time.Minute,
		PingTimeout:       2 * time.Second,
		InvocationTimeout: 60 * time.Second,
		TrainingGrace:     120 * time.Second,
		HostingGrace:      30 * time.Second,
		TrainingTimeout:   15 * time.Minute,
		SigtermAfter:      100 * time.Millisecond,
		SigtermSilent:     platform.DefaultStopSilent,
		PeerDelay:         2 * time.Second,
	}
}

type options struct {
	profile          string
	payload          []byte
	contentType      string
	accept           string
	expectStatus     int
	expectBody       string
	data             map[string]string
	hyperparameters  map[string]string
	networkIsolation bool
	rules, skip      []string
	toolkit          []Claim
	windows          Windows
	events           func(Event)
	log              *slog.Logger
	client           *client.Client
	engine           []platform.Option
	runID            string
}

// Option configures a run.
type Option func(*options)

// DefaultPayload is the sample request without WithPayload: three rows of
// four numbers, the shape of the iris measurements the templates learn.
const DefaultPayload = "5.1,3.5,1.4,0.2\n6.4,3.2,4.5,1.5\n7.7,3.0,6.1,2.3\n"

// DefaultChannel is the training channel of the job the suite runs without
// WithData, the channel the templates read.
const DefaultChannel = "training"

func defaults() *options {
	return &options{
		profile:     ProfileCPU,
		payload:     []byte(DefaultPayload),
		contentType: "text/csv",
		windows:     DefaultWindows(),
		events:      func(Event) {},
		log:         slog.New(slog.DiscardHandler),
	}
}

// WithGPU selects the gpu profile (default cpu): the GPU rules apply, and
// those that run containers attach every GPU of the engine.
func WithGPU(on bool) Option {
	return func(o *options) {
		o.profile = ProfileCPU
		if on {
			o.profile = ProfileGPU
		}
	}
}

// WithPayload sets the sample request body and its content type (default:
// DefaultPayload, text/csv).
func WithPayload(body []byte, contentType string) Option {
	return func(o *options) { o.payload, o.contentType = body, contentType }
}

// WithAccept sets the Accept header of the sample request (default: none).
func WithAccept(accept string) Option { return func(o *options) { o.accept = accept } }

// WithExpectStatus sets the status the sample request must get (default:
// any 2xx).
func WithExpectStatus(code int) Option { return func(o *options) { o.expectStatus = code } }

// WithExpectBodyContains sets a string the sample's response must contain.
func WithExpectBodyContains(s string) Option { return func(o *options) { o.expectBody = s } }

// WithData mounts a host directory as a training channel (default: one
// channel DefaultChannel holding data.csv: the rows of the sample payload
// (of DefaultPayload when the payload is not line-based), each with a label
// in front, class-0, class-1 and class-2 in turn, as CSV training data has
// it on SageMaker).
func WithData(channel, dir string) Option {
	return func(o *options) {
		if o.data == nil {
			o.data = map[string]string{}
		}
		o.data[channel] = dir
	}
}

// WithHyperparameters adds hyperparameters to the training job (default
// none, so hyperparameters.json is {}).
func WithHyperparameters(hp map[string]string) Option {
	return func(o *options) {
		if o.hyperparameters == nil {
			o.hyperparameters = map[string]string{}
		}
		maps.Copy(o.hyperparameters, hp)
	}
}

// WithNetworkIsolation runs the training job whose model is served with no
// network (C-TR-12 always runs an isolated job of its own).
func WithNetworkIsolation(on bool) Option { return func(o *options) { o.networkIsolation = on } }

// WithRules limits the run to these rule ids or id prefixes (for example
// "C-IN" or "C-TR-05"); rules they depend on run too but are not reported.
func WithRules(ids ...string) Option { return func(o *options) { o.rules = append(o.rules, ids...) } }

// WithSkip leaves out these rule ids or prefixes.
func WithSkip(ids ...string) Option { return func(o *options) { o.skip = append(o.skip, ids...) } }

// WithToolkit claims toolkit compatibility for the image, as the label
// dev.sagekit.toolkit does: ClaimToolkitTraining and/or ClaimToolkitInference.
func WithToolkit(claims ...Claim) Option {
	return func(o *options) { o.toolkit = append(o.toolkit, claims...) }
}

// WithWindows replaces SageMaker's time limits (DefaultWindows). Meant for
// testing the suite itself; the command line keeps the real limits.
func WithWindows(w Windows) Option { return func(o *options) { o.windows = w } }

// WithStartupTimeout sets the /ping start-up deadline (default 4 min).
func WithStartupTimeout(d time.Duration) Option {
	return func(o *options) { o.windows.StartupTimeout = d }
}

// WithEvents receives progress events while the suite runs (default: none).
// The function is called from several goroutines, one call at a time.
func WithEvents(f func(Event)) Option { return func(o *options) { o.events = f } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClient uses dc to reach the container engine (default: from the
// environment, as docker does).
func WithClient(dc *client.Client) Option { return func(o *options) { o.client = dc } }

// WithEngineOptions configures the container engine the suite runs on
// (default: a DockerBackend over the client of WithClient): for example
// platform.WithBackend for another container backend. The client of
// WithClient, or one from the environment, still inspects the image.
func WithEngineOptions(opts ...platform.Option) Option {
	return func(o *options) { o.engine = append(o.engine, opts...) }
}

// WithRunID sets the run id that labels every container and network of the
// run (default: random).
func WithRunID(id string) Option { return func(o *options) { o.runID = id } }

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventPlayStarted  EventKind = "play-started"
	EventPlayFinished EventKind = "play-finished"
	EventResult       EventKind = "result"
)

// Event is a progress report.
type Event struct {
	Kind EventKind
	// Play names the part of the run (static, train, serve, ...).
	Play    string
	Elapsed time.Duration
	Err     error
	// Result is set for EventResult.
	Result *Result
}
