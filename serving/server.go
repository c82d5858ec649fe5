package serving

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/sagekit/sagekit/sdk/serve"
)

// Server states, in the order a server goes through them.
const (
	stateStarting int32 = iota
	stateReady
	stateFailed
	stateDraining
)

// Server is the SageMaker-facing HTTP front. It is an http.Handler, so tests
// can mount it on httptest.NewServer; Run serves it on a real port.
type Server struct {
	h      serve.Handler
	mm     serve.MultiModelHandler // nil unless WithMultiModel and implemented
	pinger serve.Pinger
	o      options
	router *mux.Router

	state    atomic.Int32
	admitted atomic.Int64 // requests past admission: running or waiting for a slot
	limit    int64        // concurrency + queue
	slots    chan struct{}
	waiting  atomic.Int32 // requests blocked on slots

	models  registry
	metrics metrics

	execParams []byte // the JSON of /execution-parameters, fixed at New
	inline     bool   // the handler returns by its deadline: call it on the request's goroutine

	loadOnce sync.Once
	loadDone chan struct{}
	loadErr  error
}

// New returns a server for h. Nothing is loaded or listened on until Load or
// Run; until then /ping answers 503.
func New(h serve.Handler, opts ...Option) *Server {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.concurrency <= 0 {
		o.concurrency = defaultConcurrency()
		if c, ok := h.(interface{ MaxConcurrency() int }); ok && c.MaxConcurrency() > 0 {
			o.concurrency = c.MaxConcurrency()
		}
	}
	if o.queueTimeout <= 0 {
		o.queueTimeout = o.timeout
	}
	if o.bodyTimeout <= 0 {
		o.bodyTimeout = o.timeout
	}
	if o.queue < 0 {
		o.queue = 0
	} else if o.queue == 0 {
		o.queue = 128
	}
	s := &Server{
		h:        h,
		o:        o,
		limit:    int64(o.concurrency + o.queue),
		slots:    make(chan struct{}, o.concurrency),
		loadDone: make(chan struct{}),
	}
	s.pinger, _ = h.(serve.Pinger)
	if b, ok := h.(serve.DeadlineBound); ok {
		s.inline = b.BoundByDeadline()
	}
	if o.multiModel {
		s.mm, _ = h.(serve.MultiModelHandler)
	}
	s.execParams = s.executionParameters()
	s.router = s.routes()
	return s
}

// Load loads the model once, through the handler's Load, bounded by the
// start-up timeout; /ping turns 200 when it succeeds. Later calls return the
// first call's result.
func (s *Server) Load(ctx context.Context) error {
	s.loadOnce.Do(func() {
		defer close(s.loadDone)
		if s.o.multiModel && s.mm == nil {
			s.loadErr = fmt.Errorf("multi-model mode is on but the handler %T does not implement serve.MultiModelHandler: unset SAGEMAKER_MULTI_MODEL or use a multi-model handler", s.h)
			s.state.CompareAndSwap(stateStarting, stateFailed)
			return
		}
		dir := s.o.modelDir
		if s.o.multiModel {
			dir = s.o.modelsDir
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, s.o.startupTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- callLoad(ctx, s.h, dir) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) && time.Since(start) >= s.o.startupTimeout {
			err = fmt.Errorf("loading the model from %s took longer than the start-up timeout of %s (SAGEMAKER_STARTUP_TIMEOUT): %w", dir, s.o.startupTimeout, err)
		} else if err != nil {
			err = fmt.Errorf("loading the model from %s: %w", dir, err)
		}
		s.loadErr = err
		if err != nil {
			s.state.CompareAndSwap(stateStarting, stateFailed)
			s.o.logger.Error("model load failed", "error", err)
			return
		}
		s.state.CompareAndSwap(stateStarting, stateReady)
		s.o.logger.Info("model loaded", "dir", dir)
	})
	return s.loadErr
}

func callLoad(ctx context.Context, h serve.Handler, dir string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler Load panicked: %v", p)
		}
	}()
	return h.Load(ctx, dir)
}

// Ready reports whether the model is loaded and the server not draining.
func (s *Server) Ready() bool { return s.state.Load() == stateReady }

// pingBudget bounds a handler's own Ping, well under SageMaker's 2 s.
const pingBudget = time.Second

var (
	bodyHealthy   = []byte("{\"status\":\"Healthy\"}\n")
	bodyUnhealthy = []byte("{\"status\":\"Unhealthy\"}\n")
	bodyNotFound  = []byte("{}")
)

// servePing never waits for inference: it reads an atomic state and, for
// handlers with their own health check, calls Ping with a short deadline.
func (s *Server) servePing(w http.ResponseWriter, r *http.Request) {
	ok := s.state.Load() == stateReady
	if ok && s.pinger != nil {
		ctx, cancel := context.WithTimeout(r.Context(), pingBudget)
		ok = s.pinger.Ping(ctx) == nil
		cancel()
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(bodyUnhealthy)
		return
	}
	w.Write(bodyHealthy)
}

func (s *Server) serveExecutionParameters(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = jsonContentType
	w.Write(s.execParams)
}

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusNotFound)
	w.Write(bodyNotFound)
}

func (s *Server) serveMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
}
