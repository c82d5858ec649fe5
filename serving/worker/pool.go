package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/sdk/serve"
)

var (
	_ serve.Handler = (*Pool)(nil)
	_ serve.Pinger  = (*Pool)(nil)
	_ serve.Closer  = (*Pool)(nil)

	_ serve.DeadlineBound = (*Pool)(nil)
)

// ErrNoWorkerReady is what Ping returns while no worker can take a request.
var ErrNoWorkerReady = errors.New("no worker is ready")

// Pool runs worker processes and sends each request to an idle one.
type Pool struct {
	command []string
	o       options
	n       int

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	wg       sync.WaitGroup // supervisors

	mu      sync.Mutex
	idle    []*proc
	waiters []waiter
	live    map[*proc]struct{}

	mmu  sync.Mutex
	urls map[string]string // multi-model: loaded models and their directories

	ready    atomic.Int32 // workers that have answered /ping and not exited
	restarts atomic.Uint64
	crashes  atomic.Uint64
	kills    atomic.Uint64

	madeSocketDir bool
	modelDir      string

	fs *forkServer // nil unless WithForkServer
}

// proc is one run of one worker: a process and the client that talks to it.
type proc struct {
	id      int
	pid     int
	cmd     *exec.Cmd // nil for a worker forked by a fork server
	sock    string
	conn    *conn               // used by one request at a time: whoever holds pr
	models  map[string]struct{} // multi-model: what this process has loaded; holder only
	exited  chan struct{}       // closed once the process is reaped
	exitErr error
	started time.Time
	output  sync.WaitGroup
}

// New returns a pool that will run command (argv, not a shell line; see
// SplitCommand). Nothing starts before Load.
func New(command []string, opts ...Option) (*Pool, error) {
	if len(command) == 0 {
		return nil, errors.New("worker command is empty: set SAGEKIT_WORKER_COMMAND, SAGEKIT_WSGI_APP or SAGEKIT_HANDLER")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	p := &Pool{command: command, o: o, n: o.count(), stop: make(chan struct{}), live: make(map[*proc]struct{})}
	if o.forkServer {
		p.fs = &forkServer{p: p}
	}
	return p, nil
}

// BoundByDeadline reports that Invoke and InvokeModel return by their
// context's deadline, moved later by the time they waited for a worker: the
// connection to the worker carries it, and a worker still busy then is
// killed.
func (p *Pool) BoundByDeadline() bool { return true }

// MaxConcurrency is the number of workers: the serving front runs no more
// requests than that at once.
func (p *Pool) MaxConcurrency() int { return p.n }

// Load starts every worker and returns once one of them is ready, so
// /ping turns 200 as soon as a request can be served. It fails if a worker
// exits before it was ever ready (a bad command or a model that cannot
// load) or if ctx ends first.
func (p *Pool) Load(ctx context.Context, modelDir string) error {
	p.modelDir = modelDir
	if p.o.socketDir == "" {
		dir, err := os.MkdirTemp("", "sagekit-w")
		if err != nil {
			return fmt.Errorf("creating the worker socket directory: %w", err)
		}
		p.o.socketDir, p.madeSocketDir = dir, true
	}
	first := make(chan error, p.n)
	for i := 0; i < p.n; i++ {
		p.wg.Add(1)
		go p.supervise(ctx, i, first)
	}
	select {
	case err := <-first:
		// The first answer decides: a ready worker, or a start that failed,
		// which says the command or the model is wrong for every worker.
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for a worker to answer /ping: %w", ctx.Err())
	}
}

// supervise keeps worker i running until Close. The first start reports to
// first; later exits restart it after a back-off.
func (p *Pool) supervise(loadCtx context.Context, i int, first chan<- error) {
	defer p.wg.Done()
	backoff := p.o.minBackoff
	initial := true
	for {
		// Not Load's context: Load returns at the first ready worker, and
		// the others go on starting.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(loadCtx), p.o.readyTimeout)
		pr, err := p.spawn(ctx, i)
		if err == nil {
			select {
			case <-p.stop:
				p.kill(pr)
				cancel()
				return
			default:
			}
			err = p.waitReady(ctx, pr)
			if err != nil {
				p.kill(pr)
			}
		}
		cancel()
		if err == nil {
			// Ready before Load hears of it, so /ping is 200 once Load returns.
			p.ready.Add(1)
			p.release(pr)
		}
		if initial {
			initial = false
			first <- err // buffered; only Load's first answer matters
		}
		if err == nil {
			select {
			case <-pr.exited:
			case <-p.stop:
				p.ready.Add(-1)
				return
			}
			p.forget(pr)
			p.ready.Add(-1)
			if time.Since(pr.started) > 30*time.Second {
				backoff = p.o.minBackoff
			}
			p.crashes.Add(1)
			p.o.logger.Warn("worker exited", "worker", i, "error", describeExit(pr.exitErr), "restart_in", backoff.String())
		} else if !p.stopping() {
			p.o.logger.Warn("worker failed to start", "worker", i, "error", err, "restart_in", backoff.String())
		}
		select {
		case <-time.After(backoff):
		case <-p.stop:
			return
		}
		backoff = min(2*backoff, p.o.maxBackoff)
		p.restarts.Add(1)
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// waiter is a request waiting for a worker: any one, or want.
type waiter struct {
	ch   chan *proc
	want *proc
}

// errWorkerGone is what acquiring a particular worker gives once it exited.
var errWorkerGone = errors.New("the worker exited")

// acquire takes an idle worker (want nil) or the worker want, waiting for
// it as long as ctx allows.
func (p *Pool) acquire(ctx context.Context, want *proc) (*proc, error) {
	p.mu.Lock()
	if want == nil {
		for len(p.idle) > 0 {
			pr := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			if !pr.dead() {
				p.mu.Unlock()
				return pr, nil
			}
		}
	} else {
		if _, ok := p.live[want]; !ok || want.dead() {
			p.mu.Unlock()
			return nil, errWorkerGone
		}
		for i, q := range p.idle {
			if q == want {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				p.mu.Unlock()
				return want, nil
			}
		}
	}
	ch := make(chan *proc, 1)
	p.waiters = append(p.waiters, waiter{ch: ch, want: want})
	p.mu.Unlock()
	select {
	case pr := <-ch:
		if pr == nil {
			return nil, errWorkerGone
		}
		return pr, nil
	case <-ctx.Done():
		p.mu.Lock()
		for i, w := range p.waiters {
			if w.ch == ch {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		// A worker may have been handed over just before the removal.
		select {
		case pr := <-ch:
			if pr != nil {
				p.release(pr)
			}
		default:
		}
		return nil, ctx.Err()
	}
}

// release makes pr available to the next request.
func (p *Pool) release(pr *proc) {
	if pr.dead() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.live[pr]; !ok {
		return
	}
	for i, w := range p.waiters {
		if w.want == nil || w.want == pr {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			w.ch <- pr
			return
		}
	}
	p.idle = append(p.idle, pr)
}

// forget drops an exited process from the idle list.
func (p *Pool) forget(pr *proc) {
	p.mu.Lock()
	delete(p.live, pr)
	for i, q := range p.idle {
		if q == pr {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	// Whoever waits for this very process waits no more.
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if w.want == pr {
			w.ch <- nil
			continue
		}
		kept = append(kept, w)
	}
	p.waiters = kept
	p.mu.Unlock()
	wakeOutput() // its pipes have ended: no need to wait for the next poll
	pr.output.Wait()
}

func (p *Pool) stopping() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

func (pr *proc) dead() bool {
	select {
	case <-pr.exited:
		return true
	default:
		return false
	}
}

// kill ends pr and anything it started.
func (p *Pool) kill(pr *proc) {
	signalGroup(pr.pid, syscall.SIGKILL)
	p.mu.Lock()
	delete(p.live, pr)
	p.mu.Unlock()
}

// Invoke sends req to an idle worker's POST /invocations and returns its
// answer as is. A worker that fails mid-request gives a 502; one that
// is still busy at ctx's deadline is killed.
func (p *Pool) Invoke(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	pr, ctx, cancel, err := p.acquireFor(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return p.forward(ctx, pr, "/invocations", req)
}

// acquireFor takes an idle worker for a request whose time is ctx's. Time
// spent waiting for the worker (while one restarts) is not the worker's:
// the context returned carries the deadline moved later by that wait, so
// that a worker is killed only when it overran its own time on the
// request. A request that gets no worker by ctx's deadline gets 503.
func (p *Pool) acquireFor(ctx context.Context) (*proc, context.Context, context.CancelFunc, error) {
	start := time.Now()
	pr, err := p.acquire(ctx, nil)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, nil, &serve.Error{Status: http.StatusServiceUnavailable, Message: fmt.Sprintf("no worker came free within %s: every worker is busy or restarting; retry later", time.Since(start).Round(time.Millisecond))}
		}
		return nil, nil, nil, err
	}
	waited := time.Since(start)
	dl, ok := ctx.Deadline()
	if !ok || waited < time.Millisecond {
		return pr, ctx, func() {}, nil
	}
	wctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl.Add(waited))
	// The caller leaving still ends the exchange; its deadline does not.
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	return pr, wctx, func() { stop(); cancel() }, nil
}

// forward sends req to pr, which the caller holds, and releases pr.
func (p *Pool) forward(ctx context.Context, pr *proc, path string, req *serve.Request) (*serve.Response, error) {
	resp, err := pr.roundTrip(ctx, http.MethodPost, path, req, p.o.maxResponse)
	if err != nil {
		return nil, p.failed(ctx, pr, err)
	}
	p.release(pr)
	return resp, nil
}

// failed decides what a failed exchange with pr means.
func (p *Pool) failed(ctx context.Context, pr *proc, err error) error {
	ctxErr := ctx.Err()
	// The connection's deadline is ctx's deadline, and the read can time out
	// a moment before ctx's own timer marks it done: that is the same timeout.
	var ne net.Error
	if dl, ok := ctx.Deadline(); ctxErr == nil && ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			// Hung: nothing else will ever get an answer from it.
			p.kills.Add(1)
			p.o.logger.Warn("killing worker busy past the request timeout", "worker", pr.id)
			p.kill(pr)
		} else {
			// The caller left; the worker finishes and takes the next one.
			p.release(pr)
		}
		return ctxErr
	}
	p.kill(pr)
	return &serve.Error{Status: http.StatusBadGateway, Message: fmt.Sprintf("worker %d failed while serving the request (%v); it is being restarted", pr.id, err)}
}

// Ping succeeds while at least one worker is ready. It asks no worker
// anything, so it never waits behind inference.
func (p *Pool) Ping(ctx context.Context) error {
	if p.ready.Load() > 0 && !p.stopping() {
		return nil
	}
	return ErrNoWorkerReady
}

// Close stops every worker: SIGTERM to each process group, SIGKILL to those
// still running when ctx ends.
func (p *Pool) Close(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	p.mu.Lock()
	procs := make([]*proc, 0, len(p.live))
	for pr := range p.live {
		procs = append(procs, pr)
	}
	p.mu.Unlock()
	for _, pr := range procs {
		signalGroup(pr.pid, syscall.SIGTERM)
	}
	for _, pr := range procs {
		select {
		case <-pr.exited:
		case <-ctx.Done():
			signalGroup(pr.pid, syscall.SIGKILL)
			if p.fs != nil {
				// Its exit is heard from the fork server, which may be
				// what is stuck: killing it marks its workers exited.
				p.fs.abort()
			}
			<-pr.exited
		}
		// The last lines a worker wrote are passed on before Close returns.
		flushed := make(chan struct{})
		go func() { pr.output.Wait(); close(flushed) }()
		select {
		case <-flushed:
		case <-ctx.Done():
		}
	}
	p.wg.Wait()
	if p.fs != nil {
		p.fs.close(ctx)
	}
	if p.madeSocketDir {
		os.RemoveAll(p.o.socketDir)
	}
	return nil
}

// WriteMetrics adds the pool's counters to the server's Prometheus output.
func (p *Pool) WriteMetrics(w io.Writer) {
	fmt.Fprintf(w, "# HELP sagekit_workers Worker processes configured.\n# TYPE sagekit_workers gauge\nsagekit_workers %d\n", p.n)
	fmt.Fprintf(w, "# HELP sagekit_workers_ready Worker processes answering requests.\n# TYPE sagekit_workers_ready gauge\nsagekit_workers_ready %d\n", p.ready.Load())
	fmt.Fprintf(w, "# HELP sagekit_worker_restarts_total Worker processes started again.\n# TYPE sagekit_worker_restarts_total counter\nsagekit_worker_restarts_total %d\n", p.restarts.Load())
	fmt.Fprintf(w, "# HELP sagekit_worker_exits_total Worker processes that exited on their own.\n# TYPE sagekit_worker_exits_total counter\nsagekit_worker_exits_total %d\n", p.crashes.Load())
	fmt.Fprintf(w, "# HELP sagekit_worker_kills_total Worker processes killed at the request timeout.\n# TYPE sagekit_worker_kills_total counter\nsagekit_worker_kills_total %d\n", p.kills.Load())
}

func itoa(i int) string { return strconv.Itoa(i) }
