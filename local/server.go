package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sagekit/sagekit/local/batch"
	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/hosting"
	"github.com/sagekit/sagekit/local/logs"
	"github.com/sagekit/sagekit/local/scaling"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/training"
	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/platform"
)

// LabelState marks every container and network a server creates with a
// digest of its state directory, so the next server on the same directory
// removes what a killed one left behind.
const LabelState = "dev.sagekit.local"

// StateID is the value of LabelState for the state directory dir.
func StateID(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:8])
}

// Server is a running sagekit local.
type Server struct {
	st       *store.Store
	engine   *platform.Engine
	training *training.Manager
	hosting  *hosting.Manager
	batch    *batch.Manager
	sm       *wire.Model
	ops      map[string]handler
	logs     *logs.Store
	scaler   *scaling.Scaler
	log      *slog.Logger
	stateID  string
	cancel   context.CancelFunc
	stopWait time.Duration
}

type options struct {
	log           *slog.Logger
	healthTimeout time.Duration
	stopGrace     time.Duration
	shutdownWait  time.Duration
	labels        map[string]string
	scalePeriod   time.Duration
	scaleWindow   time.Duration
	gpu           bool
	observer      training.Observer
	batchObserver batch.Observer
	hostObserver  hosting.Observer
	modelLimits   platform.ExtractLimits
	engine        []platform.Option
}

// Option configures a Server.
type Option func(*options)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithHealthTimeout sets how long an endpoint instance, or a transform
// job's container, has to answer /ping (default 4 minutes, as on
// SageMaker).
func WithHealthTimeout(d time.Duration) Option { return func(o *options) { o.healthTimeout = d } }

// WithStopGrace sets StopTrainingJob's SIGTERM→SIGKILL window (default
// 120 s, as on SageMaker).
func WithStopGrace(d time.Duration) Option { return func(o *options) { o.stopGrace = d } }

// WithShutdownWait sets how long Close lets training jobs end after
// SIGTERM before their containers are removed (default 10 s).
func WithShutdownWait(d time.Duration) Option { return func(o *options) { o.shutdownWait = d } }

// WithScalingPeriod sets how often autoscaling looks at the load, and over
// how long a window it measures invocations per instance per minute
// (default 1 minute each, as CloudWatch's metric).
func WithScalingPeriod(period, window time.Duration) Option {
	return func(o *options) { o.scalePeriod, o.scaleWindow = period, window }
}

// WithGPU attaches every GPU of the engine to each training job's hosts,
// each endpoint instance's containers and each transform job's container
// (default none).
func WithGPU(on bool) Option { return func(o *options) { o.gpu = on } }

// WithTrainingObserver lets o see each training job's output as it is
// written and its hosts' result (default none): for a client in the same
// process, as 'sagekit run train'.
func WithTrainingObserver(obs training.Observer) Option {
	return func(o *options) { o.observer = obs }
}

// WithTransformObserver lets o see each transform job's files as they
// finish and its result (default none): for a client in the same process,
// as 'sagekit run transform'.
func WithTransformObserver(obs batch.Observer) Option {
	return func(o *options) { o.batchObserver = obs }
}

// WithEndpointObserver lets o see each endpoint container's output as it
// is written, its /ping result and how it stopped (default none): for a
// client in the same process, as 'sagekit run endpoint'.
func WithEndpointObserver(obs hosting.Observer) Option {
	return func(o *options) { o.hostObserver = obs }
}

// WithModelLimits bounds what unpacking an endpoint's or a transform job's
// model.tar.gz may write (default: platform's limits).
func WithModelLimits(l platform.ExtractLimits) Option { return func(o *options) { o.modelLimits = l } }

// WithLabels adds labels to every container and network (default none).
func WithLabels(l map[string]string) Option { return func(o *options) { o.labels = l } }

// WithEngineOptions configures the container engine the server makes
// (default: a Docker Engine client from the environment, a DockerBackend):
// a caller passes its client with platform.WithClient and another
// container backend with platform.WithBackend (with a client: the server
// inspects images through it). The server's labels and logger are set
// after them.
func WithEngineOptions(opts ...platform.Option) Option {
	return func(o *options) { o.engine = append(o.engine, opts...) }
}

// New opens the state directory (created if missing), removes containers
// a previous server on it left behind, marks its interrupted training
// jobs Failed and re-creates its endpoints.
func New(ctx context.Context, stateDir string, opts ...Option) (*Server, error) {
	o := options{log: slog.New(slog.DiscardHandler), shutdownWait: 10 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, fmt.Errorf("finding the state directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	s := &Server{log: o.log, stateID: StateID(abs), stopWait: o.shutdownWait}
	s.sm, err = wire.LoadModel(wire.SageMaker)
	if err != nil {
		return nil, err
	}
	s.st, err = store.Open(abs)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{LabelState: s.stateID}
	for k, v := range o.labels {
		labels[k] = v
	}
	s.engine, err = platform.New(ctx, append(slices.Clone(o.engine), platform.WithLabels(labels), platform.WithLogger(o.log))...)
	if err == nil && s.engine.Client() == nil {
		s.engine.Close()
		err = errors.New("the container engine has no Docker client: pass platform.WithClient with platform.WithBackend")
	}
	if err != nil {
		s.st.Close()
		return nil, err
	}
	if n, err := s.engine.Sweep(ctx, LabelState, s.stateID); err != nil {
		o.log.Warn("removing what a previous server left", "err", err)
	} else if n > 0 {
		o.log.Info("removed containers and networks a previous server left", "count", n)
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	mover := &data.Mover{}
	s.logs, err = logs.Open(filepath.Join(abs, "logs"))
	if err != nil {
		cancel()
		s.engine.Close()
		s.st.Close()
		return nil, err
	}
	s.training, err = training.New(training.Options{Context: life, Store: s.st, Engine: s.engine, Mover: mover, Dir: filepath.Join(abs, "training"), Log: o.log, StopGrace: o.stopGrace, Logs: s.logs, GPU: o.gpu, Observer: o.observer})
	if err == nil {
		s.hosting, err = hosting.New(life, hosting.Options{Store: s.st, Engine: s.engine, Mover: mover, Dir: filepath.Join(abs, "models"), Log: o.log, HealthTimeout: o.healthTimeout, Logs: s.logs,
			GPU: o.gpu, ModelLimits: o.modelLimits, Observer: o.hostObserver})
	}
	if err == nil {
		s.batch, err = batch.New(batch.Options{Context: life, Store: s.st, Engine: s.engine, Mover: mover, Hosting: s.hosting, Logs: s.logs, Dir: filepath.Join(abs, "transform"), Log: o.log,
			GPU: o.gpu, StartupTimeout: o.healthTimeout, ModelLimits: o.modelLimits, Observer: o.batchObserver})
	}
	if err == nil {
		s.scaler, err = scaling.New(s.hosting, s.st, o.scalePeriod, o.scaleWindow, o.log)
	}
	if err != nil {
		cancel()
		s.engine.Close()
		s.logs.Close()
		s.st.Close()
		return nil, err
	}
	go s.scaler.Run(life)
	s.ops = s.handlers()
	for k, h := range s.scalingHandlers() {
		s.ops[k] = h
	}
	return s, nil
}

// Close stops every container the server started: endpoints (SIGTERM,
// then removal), training jobs (SIGTERM, then removal after the shutdown
// wait; they are marked Failed). Records stay for the next start.
func (s *Server) Close() error {
	var wg [2]chan struct{}
	for i := range wg {
		wg[i] = make(chan struct{})
	}
	go func() { s.hosting.Close(); s.batch.Close(); close(wg[0]) }()
	go func() {
		s.training.StopAll()
		ctx, cancel := context.WithTimeout(context.Background(), s.stopWait)
		defer cancel()
		if !s.training.Wait(ctx) {
			s.cancel()
			s.training.Wait(context.Background())
		}
		close(wg[1])
	}()
	<-wg[0]
	<-wg[1]
	s.cancel()
	return errors.Join(s.sweep(), s.engine.Close(), s.logs.Close(), s.st.Close())
}

// sweep removes every container and network carrying the server's label,
// looking again until none is left (a container whose start was under way
// shows up late), for up to 5 s.
func (s *Server) sweep() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, err := s.engine.Sweep(ctx, LabelState, s.stateID)
		left, lerr := s.engine.Leftovers(ctx, LabelState, s.stateID)
		if err == nil && lerr == nil && len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, lerr, fmt.Errorf("removing containers and networks labelled %s=%s: %d left: %v", LabelState, s.stateID, len(left), left))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Serve answers on ln until ctx ends, then shuts the HTTP server down
// (the caller then calls Close).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
