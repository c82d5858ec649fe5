package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/serve"
)

// result is what a handler call hands back to the request goroutine.
type result struct {
	resp *serve.Response
	err  error
}

// callPool recycles the one-slot channels the request goroutine waits on.
// A channel is put back only after its result has been received, so a call
// abandoned at the timeout never shares its channel.
var callPool = sync.Pool{New: func() any { return make(chan result, 1) }}

var errTooLarge = errors.New("request body too large")

func (s *Server) serveInvocations(w http.ResponseWriter, r *http.Request) {
	s.invoke(w, r, "")
}

// invoke runs one inference request: body, admission, slot, handler call
// with the request timeout, response. model is "" for /invocations.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, model string) {
	if st := s.state.Load(); st != stateReady {
		msg := "the model is not loaded yet"
		if st == stateDraining {
			msg = "the server is shutting down"
		} else if st == stateFailed {
			msg = "the model failed to load"
		}
		writeError(w, http.StatusServiceUnavailable, msg)
		return
	}
	// The body is read before the request takes anything that bounds how
	// many run: a client sending slowly costs a goroutine and its buffer,
	// never an admission or a worker slot.
	body, err := s.readBody(w, r)
	if err != nil {
		switch {
		case errors.Is(err, errTooLarge):
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than the limit of %d bytes (%d MiB; SAGEMAKER_MAX_PAYLOAD_IN_MB)", s.o.maxBody, s.o.maxBody>>20))
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, fmt.Sprintf("the request body did not arrive within %s: send it at once", s.o.bodyTimeout))
		default:
			writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		}
		return
	}

	if s.admitted.Add(1) > s.limit {
		s.admitted.Add(-1)
		s.metrics.rejected.Add(1)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the server is at capacity (%d requests running or queued): retry later", s.limit))
		return
	}
	defer s.admitted.Add(-1)

	if !s.takeSlot(w, r) {
		return
	}
	// The request's own time starts now, with a slot: waiting for it had
	// its own bound, so a worker is killed only when it overran this request.
	ctx, cancel := context.WithTimeout(r.Context(), s.o.timeout)
	defer cancel()

	req := &serve.Request{
		Body:        body,
		ContentType: contentType(r.Header),
		Accept:      r.Header.Get("Accept"),
		Header:      sagemakerHeaders(r.Header),
	}
	if s.inline {
		var res result
		s.call(ctx, &res, model, req)
		if s.waiting.Load() > 0 {
			// The freed slot readied a request waiting for it: let it reach
			// the handler before this one writes its answer, so that the
			// slot's worker does not sit idle while the answer is written.
			runtime.Gosched()
		}
		s.answer(w, ctx, req, res)
		return
	}
	ch := callPool.Get().(chan result)
	go s.callAsync(ctx, ch, model, req)
	select {
	case res := <-ch:
		callPool.Put(ch)
		s.answer(w, ctx, req, res)
	case <-ctx.Done():
		s.timedOut(w, ctx)
	}
}

// answer writes the handler's result.
func (s *Server) answer(w http.ResponseWriter, ctx context.Context, req *serve.Request, res result) {
	if res.err != nil {
		if ctx.Err() != nil && errors.Is(res.err, ctx.Err()) {
			s.timedOut(w, ctx)
			return
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) && errors.Is(res.err, context.DeadlineExceeded) {
			// The handler saw the deadline a moment before ctx's timer did.
			<-ctx.Done()
			s.timedOut(w, ctx)
			return
		}
		status, msg := statusOf(res.err)
		if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, msg)
		return
	}
	writeResponse(w, req, res.resp)
}

// callAsync runs the handler on its own goroutine so that a handler ignoring
// its context still gets its caller a 504 on time. The slot is freed only
// when the handler returns: a stuck handler keeps holding one, which bounds
// how many can pile up.
func (s *Server) callAsync(ctx context.Context, ch chan<- result, model string, req *serve.Request) {
	var res result
	s.call(ctx, &res, model, req)
	ch <- res
}

// call runs the handler, turns a panic into an error and frees the slot.
func (s *Server) call(ctx context.Context, res *result, model string, req *serve.Request) {
	defer func() {
		if p := recover(); p != nil {
			*res = result{err: fmt.Errorf("handler panicked: %v", p)}
		}
		<-s.slots
	}()
	if model != "" {
		res.resp, res.err = s.mm.InvokeModel(ctx, model, req)
	} else {
		res.resp, res.err = s.h.Invoke(ctx, req)
	}
	if res.err == nil && res.resp == nil {
		res.resp = &serve.Response{}
	}
}

func (s *Server) timedOut(w http.ResponseWriter, ctx context.Context) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		s.metrics.timeouts.Add(1)
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("the model did not answer within %s (SAGEMAKER_MODEL_SERVER_TIMEOUT)", s.o.timeout))
		return
	}
	// The caller went away; nobody reads this answer.
	writeError(w, 499, "the client closed the request")
}

// takeSlot waits for a handler slot for at most the queue timeout. It
// answers the request itself and returns false when none came free (503
// with Retry-After, as SageMaker's front answers a busy model) or the
// caller left.
func (s *Server) takeSlot(w http.ResponseWriter, r *http.Request) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	start := time.Now()
	t := time.NewTimer(s.o.queueTimeout)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		if time.Since(start) >= goneCheckAfter && clientGone(w) {
			// Nobody waits for this answer any more: the slot goes to the
			// next request instead of a worker's time.
			<-s.slots
			writeError(w, 499, "the client closed the request")
			return false
		}
		return true
	case <-t.C:
		s.metrics.rejected.Add(1)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("no worker came free within %s (the queue timeout): retry later", s.o.queueTimeout))
	case <-r.Context().Done():
		writeError(w, 499, "the client closed the request")
	}
	return false
}

// goneCheckAfter is how long a request waits for a slot before it checks,
// once it has one, that its client is still there. On net/http the
// request's context says so at once; the front's own connection loop has
// no background read and is asked (a read that does not wait).
const goneCheckAfter = 50 * time.Millisecond

// clientGone reports whether w's connection says its client has left.
func clientGone(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case interface{ ClientGone() bool }:
			return x.ClientGone()
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}

// setReadDeadline is http.ResponseController's SetReadDeadline without its
// allocation: it unwraps w down to the connection's writer.
func setReadDeadline(w http.ResponseWriter, t time.Time) bool {
	for {
		switch x := w.(type) {
		case interface{ SetReadDeadline(time.Time) error }:
			return x.SetReadDeadline(t) == nil
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}

// eagerBody is the largest body allocated in one piece from its
// Content-Length before it arrives; a larger one gets its full buffer once
// that much has arrived, so a client that announces 6 MiB and sends nothing
// costs little.
const eagerBody = 64 << 10

// readBody reads the whole body within the body timeout: a buffer of
// exactly Content-Length bytes when it is known, and a 413 before reading
// anything past the limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.o.maxBody
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	if r.ContentLength == 0 {
		return []byte{}, nil
	}
	// A ResponseWriter that cannot set deadlines (a test recorder) leaves
	// the server's ReadTimeout as the bound. The deadline is lifted once the
	// body is in: the connection's background read must not end the request
	// while the handler runs.
	if setReadDeadline(w, time.Now().Add(s.o.bodyTimeout)) {
		defer setReadDeadline(w, time.Time{})
	}
	if r.ContentLength > 0 && r.ContentLength <= eagerBody {
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	// Large: the first eagerBody bytes, then, once they have arrived,
	// exactly Content-Length. Unknown length: doubling up to one byte past
	// the limit (to tell a body that is too long).
	end := limit + 1
	if r.ContentLength > 0 {
		end = r.ContentLength
	}
	buf := make([]byte, 0, min(end, eagerBody))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= end {
				break
			}
			next := end
			if r.ContentLength < 0 {
				next = min(end, 2*int64(cap(buf)))
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(buf)) > limit {
		return nil, errTooLarge
	}
	if r.ContentLength > 0 && int64(len(buf)) < r.ContentLength {
		return nil, io.ErrUnexpectedEOF
	}
	return buf, nil
}

// contentType is the request's Content-Type, else its ContentType header
// (any letter case), which the inference toolkit also reads
// (^[Cc]ontent-?[Tt]ype): clients written for it send that spelling.
func contentType(h http.Header) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return ct
	}
	return h.Get("ContentType")
}

// sagemakerHeaders returns the X-Amzn-SageMaker-* request headers, or nil
// (no allocation) when there are none.
func sagemakerHeaders(h http.Header) http.Header {
	var out http.Header
	for k, v := range h {
		if strings.HasPrefix(k, optml.HeaderPrefix) {
			if out == nil {
				out = make(http.Header, 2)
			}
			out[k] = v
		}
	}
	return out
}

var octetStream = []string{"application/octet-stream"}

func writeResponse(w http.ResponseWriter, req *serve.Request, resp *serve.Response) {
	h := w.Header()
	switch {
	case resp.ContentType != "":
		h["Content-Type"] = headerValue(resp.ContentType)
	case concreteType(req.Accept):
		h["Content-Type"] = headerValue(req.Accept)
	default:
		h["Content-Type"] = octetStream
	}
	// Below net/http's chunking buffer the server computes Content-Length
	// itself when the handler returns.
	if len(resp.Body) >= 2048 {
		h["Content-Length"] = []string{strconv.Itoa(len(resp.Body))}
	}
	for k, v := range resp.Header {
		if k = http.CanonicalHeaderKey(k); strings.HasPrefix(k, optml.HeaderPrefix) {
			h[k] = v
		}
	}
	if resp.CustomAttributes != "" {
		h.Set(optml.HeaderCustomAttributes, resp.CustomAttributes)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(resp.Body)
}

// headerValues caches the []string of the few content types a model
// answers with, so writing one costs no allocation. It stops growing at
// maxCachedTypes entries.
var (
	headerValues   sync.Map // string -> []string
	cachedTypes    atomic.Int32
	maxCachedTypes int32 = 64
)

func headerValue(v string) []string {
	if hv, ok := headerValues.Load(v); ok {
		return hv.([]string)
	}
	hv := []string{v}
	if cachedTypes.Add(1) <= maxCachedTypes {
		headerValues.Store(v, hv)
	}
	return hv
}

// concreteType reports whether accept names exactly one media type, which
// then serves as the response Content-Type the handler left empty.
func concreteType(accept string) bool {
	return accept != "" && !strings.ContainsAny(accept, ",*")
}
