package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/serving/internal/h1"
	"github.com/sagekit/sagekit/serving/internal/rawio"
)

// Run listens on the configured address (and the metrics address, if any),
// so that a port already in use is reported at once, then serves as Serve
// does.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.o.addr, err)
	}
	var mln net.Listener
	if s.o.metricsAddr != "" {
		if mln, err = net.Listen("tcp", s.o.metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listening for metrics on %s: %w", s.o.metricsAddr, err)
		}
	}
	return s.serve(ctx, ln, mln)
}

// Serve serves on ln, loads the model in the background (/ping turns 200
// when it is loaded) and returns when ctx ends or the model fails to load.
// When ctx ends, /ping answers 503, the listener closes, in-flight requests
// finish within the shutdown timeout and the handler is closed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, nil)
}

func (s *Server) serve(ctx context.Context, ln, mln net.Listener) error {
	srv := s.frontServer()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(rawio.WrapListener(ln)) }()
	s.o.logger.Info("serving", "addr", ln.Addr().String(), "timeout", s.o.timeout.String(), "max_body_bytes", s.o.maxBody, "concurrency", cap(s.slots), "queue", s.o.queue)
	var msrv *http.Server
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.MetricsHandler())
		msrv = s.httpServer(mux)
		go func() { errc <- msrv.Serve(mln) }()
		s.o.logger.Info("serving metrics", "addr", mln.Addr().String())
	}
	loadErr := make(chan error, 1)
	go func() { loadErr <- s.Load(ctx) }()

	var runErr error
	loadc := loadErr
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err := <-errc:
			runErr = fmt.Errorf("serving HTTP: %w", err)
			break wait
		case err := <-loadc:
			if err != nil {
				runErr = err
				break wait
			}
			loadc = nil
		}
	}

	// The run context is over: shut down on a fresh one, shorter than the
	// 30 s SageMaker waits between SIGTERM and SIGKILL.
	s.state.Store(stateDraining)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.shutdownTimeout)
	defer cancel()
	s.o.logger.Info("shutting down", "grace", s.o.shutdownTimeout.String())
	if err := srv.Shutdown(sctx); err != nil {
		// A request cut off by the end of the grace period is a failed
		// drain: Run returns an error and the runtime exits 1. One that
		// ended in time is the contract's drain: nil, exit 0.
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("requests were still running when the shutdown grace of %s ended (SAGEKIT_SHUTDOWN_GRACE) and were cut off: %w", s.o.shutdownTimeout, err)
		}
		runErr = errors.Join(runErr, fmt.Errorf("draining requests: %w", err))
	}
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	select {
	case <-s.loadDone:
	case <-sctx.Done():
	}
	if c, ok := s.h.(serve.Closer); ok {
		if err := c.Close(sctx); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("closing the handler: %w", err))
		}
	}
	return runErr
}

// frontServer is the server of the serving port: the front's own
// connection loop with net/http behind it, or net/http alone.
func (s *Server) frontServer() interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
} {
	std := s.httpServer(s)
	if s.o.netHTTP {
		return std
	}
	return &h1.Server{
		Handler:           s,
		Fallback:          std,
		ReadHeaderTimeout: std.ReadHeaderTimeout,
		ReadTimeout:       std.ReadTimeout,
		WriteTimeout:      std.WriteTimeout,
		IdleTimeout:       std.IdleTimeout,
		ErrorLog:          std.ErrorLog,
	}
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// Headers come from SageMaker's own front end, quickly.
		ReadHeaderTimeout: 10 * time.Second,
		// /invocations sets its own deadline for the body (the body
		// timeout); this bounds the other routes' bodies.
		ReadTimeout: s.o.bodyTimeout + 10*time.Second,
		// Long enough to write the 504 that ends a request at the timeout,
		// after the body, the wait for a slot and a worker pool's wait for
		// a restarting worker (bounded by the timeout too).
		WriteTimeout: s.o.bodyTimeout + s.o.queueTimeout + 2*s.o.timeout + 10*time.Second,
		// Above the 60 s idle timeout of common load balancers, so the
		// client, not the server, closes idle connections.
		IdleTimeout: 65 * time.Second,
		ErrorLog:    scrubbed(slog.NewLogLogger(s.o.logger.Handler(), slog.LevelWarn)),
	}
}

// executionParameters renders GET /execution-parameters once.
func (s *Server) executionParameters() []byte {
	p := s.o.execParams
	if p.MaxPayloadInMB <= 0 {
		p.MaxPayloadInMB = int((s.o.maxBody + (1<<20 - 1)) >> 20)
	}
	if p.BatchStrategy == "" {
		p.BatchStrategy = optml.MultiRecord
	}
	if p.MaxConcurrentTransforms <= 0 {
		// SageMaker requires MaxConcurrentTransforms × MaxPayloadInMB ≤ 100.
		p.MaxConcurrentTransforms = max(1, min(s.o.concurrency, 100/max(1, p.MaxPayloadInMB)))
	}
	b, _ := json.Marshal(p)
	return append(b, '\n')
}
