// Package serve is what a Go algorithm implements to be served in process by
// sagekit's serving stack: load the model once, then answer invocations.
//
// The HTTP side (routes, limits, timeouts, queueing, shutdown) belongs to
// package serving; a Handler only sees decoded requests.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Request is one POST /invocations as the handler sees it. Body is at most
// the configured payload limit (6 MiB by default) and is owned by the handler.
type Request struct {
	Body        []byte
	ContentType string // as sent, parameters included
	Accept      string // as sent; empty when the caller sent none
	// Header holds the X-Amzn-SageMaker-* request headers, untouched.
	Header http.Header
}

// Response is the handler's answer. A zero Status means 200.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	// CustomAttributes, when set, is returned in
	// X-Amzn-SageMaker-Custom-Attributes; nothing is echoed otherwise.
	CustomAttributes string
	// Header holds further X-Amzn-SageMaker-* response headers (for example
	// X-Amzn-SageMaker-New-Session-Id); other names are ignored.
	Header http.Header
}

// Handler serves one model in process.
type Handler interface {
	// Load is called once, before /ping turns 200, with the model directory
	// (/opt/ml/model, read-only on SageMaker).
	Load(ctx context.Context, modelDir string) error
	// Invoke answers one request. It is called concurrently. An *Error
	// chooses the status code; any other error becomes a 500.
	Invoke(ctx context.Context, req *Request) (*Response, error)
}

// Pinger is an optional Handler ability: a health check beyond "loaded".
type Pinger interface {
	Ping(ctx context.Context) error
}

// MultiModelHandler is an optional ability for multi-model endpoints
// (SAGEMAKER_MULTI_MODEL=true): models are loaded, invoked and unloaded by name.
type MultiModelHandler interface {
	LoadModel(ctx context.Context, name, dir string) error
	UnloadModel(ctx context.Context, name string) error
	InvokeModel(ctx context.Context, name string, req *Request) (*Response, error)
}

// DeadlineBound is an optional Handler ability: Invoke (and InvokeModel)
// return by their context's deadline on their own, as a worker pool that
// puts the deadline on its connection does (moved later by any time the
// request waited for a worker, which is not the worker's time). The server then calls them on
// the request's goroutine; for other handlers it calls them on a goroutine
// of their own, so that a handler ignoring its context still gets its
// caller a 504 on time.
type DeadlineBound interface {
	BoundByDeadline() bool
}

// Closer is an optional Handler ability: release what Load acquired. The
// serving stack calls it once, after the last request has finished.
type Closer interface {
	Close(ctx context.Context) error
}

// ErrOutOfResources, returned (possibly wrapped) by LoadModel or Invoke,
// tells a multi-model endpoint that memory or another resource ran out; the
// caller gets 507 and SageMaker unloads idle models before retrying.
var ErrOutOfResources = errors.New("out of memory or other resources")

// Error is an error with an HTTP status, returned by Invoke to reject a
// request (for example 415 for an unsupported content type).
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// Errorf returns an *Error with the given status.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// HandlerFunc adapts a function to Handler, with a no-op Load.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Load does nothing.
func (HandlerFunc) Load(context.Context, string) error { return nil }

// Invoke calls f.
func (f HandlerFunc) Invoke(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

var _ Handler = HandlerFunc(nil)
