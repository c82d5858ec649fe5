package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/owner"
)

// ErrNoGPURuntime is returned when a container asks for GPUs and the engine
// has no GPU runtime (no NVIDIA container toolkit or CDI devices).
var ErrNoGPURuntime = errors.New("no GPU runtime in the container engine")

// Engine runs SageMaker-style containers on a container engine through a
// Backend. Every container and network it creates carries its labels, so
// Sweep can find leftovers, and the owner labels of package internal/owner
// (this process's pid and start time), so that the next Engine made after
// this process died, even by SIGKILL, removes them.
type Engine struct {
	b      Backend
	dc     *client.Client
	ownDC  bool
	labels map[string]string
	log    *slog.Logger
	host   string
}

type options struct {
	host    string
	labels  map[string]string
	log     *slog.Logger
	dc      *client.Client
	backend Backend
}

// Option configures an Engine.
type Option func(*options)

// WithLabels adds labels to every container and network the engine creates
// (default: none besides the owner labels).
func WithLabels(l map[string]string) Option {
	return func(o *options) { maps.Copy(o.labels, l) }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClient uses dc instead of a client made from the environment
// (DOCKER_HOST and friends). The caller keeps ownership of dc.
func WithClient(dc *client.Client) Option { return func(o *options) { o.dc = dc } }

// WithHost sets the address where the engine publishes container ports
// (default: the host of a tcp:// engine address, as DOCKER_HOST gives it,
// else 127.0.0.1).
func WithHost(h string) Option { return func(o *options) { o.host = h } }

// WithBackend runs containers on b instead of a DockerBackend (default: a
// DockerBackend over the client of WithClient or the environment). With
// WithClient too, that client still serves images and Info (Client returns
// it) and removes what dead processes left, as without WithBackend; with
// WithBackend alone (a fake, for unit tests) New neither connects to
// Docker nor removes anything, and Client returns nil.
func WithBackend(b Backend) Option { return func(o *options) { o.backend = b } }

// New connects to the container engine, then removes every container and
// network whose owner process has died (see package internal/owner), on
// any backend: they carry the owner labels whichever made them.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	o := options{labels: map[string]string{}, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	maps.Copy(o.labels, owner.Labels())
	e := &Engine{b: o.backend, dc: o.dc, labels: o.labels, log: o.log, host: o.host}
	if e.b != nil && e.dc == nil {
		if e.host == "" {
			e.host = "127.0.0.1"
		}
		return e, nil
	}
	if e.dc == nil {
		dc, err := client.New(client.FromEnv)
		if err != nil {
			return nil, fmt.Errorf("connecting to the container engine: %w", err)
		}
		e.dc, e.ownDC = dc, true
	}
	if _, err := e.dc.Ping(ctx, client.PingOptions{}); err != nil {
		e.Close()
		return nil, fmt.Errorf("connecting to the container engine at %s: start it with `sudo systemctl start docker` (or set DOCKER_HOST; `sagekit doctor` checks the setup): %w", e.dc.DaemonHost(), err)
	}
	if e.host == "" {
		e.host = publishHost(e.dc.DaemonHost())
	}
	if e.b == nil {
		e.b = NewDockerBackend(e.dc, nil)
	}
	removed, err := owner.Reap(ctx, e.dc)
	if len(removed) > 0 {
		e.log.Info("removed what sagekit processes that died left behind", "removed", removed)
	}
	if err != nil {
		e.log.Warn("removing what sagekit processes that died left behind", "error", err)
	}
	return e, nil
}

// publishHost is where ports published by the engine at dockerHost can be
// container, which is wrong when that container shares the engine host's
// network namespace; the engine's own address is right in both cases.
func publishHost(dockerHost string) string {
	if u, err := url.Parse(dockerHost); err == nil && (u.Scheme == "tcp" || u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "" {
		return u.Hostname()
	}
	return "127.0.0.1"
}

// Client is the Docker Engine's API client (nil with WithBackend alone).
func (e *Engine) Client() *client.Client { return e.dc }

// Close releases the client (when the engine made it).
func (e *Engine) Close() error {
	if e.ownDC {
		return e.dc.Close()
	}
	return nil
}

// Sweep removes every container and network carrying the label key=value,
// running or not, and returns how many it removed. Use it after a run, or
// to clear what an interrupted run left behind.
func (e *Engine) Sweep(ctx context.Context, key, value string) (int, error) {
	ctx = context.WithoutCancel(ctx)
	rs, err := e.b.List(ctx, key, value)
	errs := []error{err}
	n := 0
	// Containers first: a network in use cannot be removed.
	for _, kind := range []string{"container", "network"} {
		for _, r := range rs {
			if r.Kind != kind {
				continue
			}
			if kind == "container" {
				err = e.b.Remove(ctx, r.ID)
			} else {
				err = e.b.RemoveNetwork(ctx, r.ID)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// Leftovers lists the containers ("container <short id>") and networks
// ("network <name>") labelled key=value.
func (e *Engine) Leftovers(ctx context.Context, key, value string) ([]string, error) {
	rs, err := e.b.List(ctx, key, value)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range rs {
		id := r.ID
		if r.Kind == "container" {
			id = short(id)
		}
		ids = append(ids, r.Kind+" "+id)
	}
	return ids, nil
}

// Container is one running (or exited) container started by the engine.
type Container struct {
	e       *Engine
	ID      string
	Started time.Time
	labels  map[string]string

	mu       sync.Mutex
	exited   bool
	code     int
	exitedAt time.Time
	ran      time.Duration // from the engine's timestamps; -1 if unknown
	done     chan struct{}
}

// run creates and starts a container of s, with the engine's labels added
// to its own and its ports published on the engine's host when that is a
// loopback address (nothing else on the network reaches them then).
func (e *Engine) run(ctx context.Context, s ContainerSpec) (*Container, error) {
	labels := maps.Clone(e.labels)
	maps.Copy(labels, s.Labels)
	s.Labels = labels
	if ip, err := netip.ParseAddr(e.host); err == nil && ip.IsLoopback() {
		s.PublishIP = ip
	}
	e.log.Debug("starting a container", "image", s.Image, "cmd", s.Cmd)
	id, err := e.b.Create(ctx, s)
	if err == nil {
		if err = e.b.Start(ctx, id); err != nil {
			// Created but not started: remove it now.
			e.b.Remove(context.WithoutCancel(ctx), id)
		}
	}
	if err != nil {
		if s.GPU && errors.Is(err, ErrNoGPURuntime) {
			return nil, fmt.Errorf("starting %s with GPUs: %w", s.Image, ErrNoGPURuntime)
		}
		return nil, fmt.Errorf("starting %s %s: %w", s.Image, strings.Join(s.Cmd, " "), err)
	}
	c := &Container{e: e, ID: id, Started: time.Now(), labels: labels, done: make(chan struct{})}
	go c.watch(context.WithoutCancel(ctx))
	return c, nil
}

// watch records the exit of the container.
func (c *Container) watch(ctx context.Context) {
	defer close(c.done)
	ex, err := c.e.b.Wait(ctx, c.ID)
	if err != nil {
		// The container is gone (removed); nothing to record.
		return
	}
	c.mu.Lock()
	c.exited, c.code, c.exitedAt, c.ran = true, ex.Code, time.Now(), ex.Ran
	c.mu.Unlock()
}

// Label returns the value of one of the container's labels (the
// platform's LabelRole and LabelHost among them).
func (c *Container) Label(key string) string { return c.labels[key] }

// Done is closed when the container has exited (or was removed).
func (c *Container) Done() <-chan struct{} { return c.done }

// Exited reports whether the container has exited, and its exit code.
func (c *Container) Exited() (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exited, c.code
}

// Ran is how long the container ran: from its start to its exit, or
// until now while it runs.
func (c *Container) Ran() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exited && c.ran >= 0 {
		return c.ran
	}
	if c.exited {
		return c.exitedAt.Sub(c.Started)
	}
	return time.Since(c.Started)
}

// Wait blocks until the container exits or ctx ends, and returns the exit
// code.
func (c *Container) Wait(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		ok, code := c.Exited()
		if !ok {
			return 0, errors.New("container was removed before it exited")
		}
		return code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// StopResult says how a container ended after SIGTERM.
type StopResult struct {
	// Elapsed is the time from SIGTERM to exit (or to SIGKILL).
	Elapsed time.Duration
	// AlreadyExited is true when the container had ended before the signal.
	AlreadyExited bool
	// Killed is true when it outlived the grace period and got SIGKILL.
	Killed   bool
	ExitCode int
}

// Stop sends SIGTERM, waits up to grace for the container to exit, then
// sends SIGKILL, as SageMaker does.
func (c *Container) Stop(ctx context.Context, grace time.Duration) (StopResult, error) {
	if ok, code := c.Exited(); ok {
		return StopResult{AlreadyExited: true, ExitCode: code}, nil
	}
	start := time.Now()
	if err := c.e.b.Kill(ctx, c.ID, "SIGTERM"); err != nil {
		// It may have exited before we heard of it.
		select {
		case <-c.done:
			_, code := c.Exited()
			return StopResult{AlreadyExited: true, ExitCode: code}, nil
		case <-time.After(5 * time.Second):
		}
		return StopResult{}, err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		_, code := c.Exited()
		return StopResult{Elapsed: time.Since(start), ExitCode: code}, nil
	case <-ctx.Done():
		return StopResult{}, ctx.Err()
	case <-t.C:
	}
	res := StopResult{Elapsed: time.Since(start), Killed: true}
	if err := c.e.b.Kill(ctx, c.ID, "SIGKILL"); err != nil {
		// It may have exited just as the grace period ended.
		select {
		case <-c.done:
			_, code := c.Exited()
			return StopResult{Elapsed: res.Elapsed, ExitCode: code}, nil
		case <-time.After(5 * time.Second):
		}
		return res, err
	}
	code, err := c.Wait(ctx)
	res.ExitCode = code
	return res, err
}

// Logs returns the container's stdout and stderr, interleaved.
func (c *Container) Logs(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.e.b.Logs(ctx, c.ID, false, &buf, &buf); err != nil {
		return buf.Bytes(), fmt.Errorf("reading logs: %w", err)
	}
	return buf.Bytes(), nil
}

// Exec runs cmd inside the running container and returns its exit code and
// combined output.
func (c *Container) Exec(ctx context.Context, cmd ...string) (int, []byte, error) {
	code, out, err := c.e.b.Exec(ctx, c.ID, cmd)
	if err != nil {
		return code, nil, fmt.Errorf("running %s in the container: %w", strings.Join(cmd, " "), err)
	}
	return code, out, nil
}

// Remove force-removes the container. It works on a cancelled ctx, so it
// can run on the way out of an interrupted run.
func (c *Container) Remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return c.e.b.Remove(ctx, c.ID)
}
