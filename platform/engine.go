package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/sagekit/sagekit/internal/owner"
)

// ErrNoGPURuntime is returned when a container asks for GPUs and the engine
// has no GPU runtime (no NVIDIA container toolkit or CDI devices).
var ErrNoGPURuntime = errors.New("no GPU runtime in the container engine")

// EnvRyukDisabled is testcontainers' switch for its reaper container, which
// must be pulled from a registry. The platform cleans up after itself.
const EnvRyukDisabled = "TESTCONTAINERS_RYUK_DISABLED"

// setupOnce applies the process-wide testcontainers settings once, before
// any engine runs a container.
var setupOnce sync.Once

// Engine runs SageMaker-style containers on the local container engine.
// Every container and network it creates carries its labels, so Sweep can
// find leftovers, and the owner labels of package internal/owner (this
// process's pid and start time), so that the next Engine made after this
// process died, even by SIGKILL, removes them.
type Engine struct {
	dc     *client.Client
	ownDC  bool
	labels map[string]string
	log    *slog.Logger
	host   string
}

type options struct {
	host   string
	labels map[string]string
	log    *slog.Logger
	dc     *client.Client
}

// Option configures an Engine.
type Option func(*options)

// WithLabels adds labels to every container and network the engine creates
// (default: none besides testcontainers' own).
func WithLabels(l map[string]string) Option {
	return func(o *options) { maps.Copy(o.labels, l) }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClient uses dc instead of a client made from the environment
// (DOCKER_HOST and friends). The caller keeps ownership of dc.
func WithClient(dc *client.Client) Option { return func(o *options) { o.dc = dc } }

// WithHost sets the address where the engine publishes container ports
// (default: the host of a tcp:// DOCKER_HOST, else 127.0.0.1).
func WithHost(h string) Option { return func(o *options) { o.host = h } }

// New connects to the container engine, then removes every container and
// network whose owner process has died (see package internal/owner). It
// turns testcontainers' Ryuk off (unless the environment already decided),
// since Ryuk needs an image from a registry; the platform removes what it
// creates itself.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	o := options{labels: map[string]string{}, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	maps.Copy(o.labels, owner.Labels())
	setupOnce.Do(func() {
		if _, ok := os.LookupEnv(EnvRyukDisabled); !ok {
			os.Setenv(EnvRyukDisabled, "true")
		}
		// testcontainers logs through a process-wide logger; keep it quiet
		// (the platform reports through its own logger).
		tclog.SetDefault(tclog.NewNoopLogger())
	})
	e := &Engine{dc: o.dc, labels: o.labels, log: o.log, host: o.host}
	if e.host == "" {
		e.host = publishHost(os.Getenv("DOCKER_HOST"))
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
// reached. testcontainers guesses a gateway address when it runs inside a
// container, which is wrong when that container shares the engine host's
// network namespace; the engine's own address is right in both cases.
func publishHost(dockerHost string) string {
	if u, err := url.Parse(dockerHost); err == nil && (u.Scheme == "tcp" || u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "" {
		return u.Hostname()
	}
	return "127.0.0.1"
}

// Client is the engine's API client.
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
	f := make(client.Filters).Add("label", key+"="+value)
	var errs []error
	n := 0
	cs, err := e.dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range cs.Items {
		if _, err := e.dc.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing container %s: %w", c.ID[:12], err))
			continue
		}
		n++
	}
	ns, err := e.dc.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return n, errors.Join(append(errs, fmt.Errorf("listing networks: %w", err))...)
	}
	for _, nw := range ns.Items {
		if _, err := e.dc.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", nw.Name, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Leftovers lists the ids of containers and networks labelled key=value.
func (e *Engine) Leftovers(ctx context.Context, key, value string) ([]string, error) {
	f := make(client.Filters).Add("label", key+"="+value)
	var ids []string
	cs, err := e.dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range cs.Items {
		ids = append(ids, "container "+c.ID[:12])
	}
	ns, err := e.dc.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range ns.Items {
		ids = append(ids, "network "+n.Name)
	}
	return ids, nil
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(strings.ToLower(err.Error()), "not found"))
}

// Container is one running (or exited) container started by the engine.
type Container struct {
	e       *Engine
	tc      *testcontainers.DockerContainer
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

// runSpec is what every container start shares.
type runSpec struct {
	image    string
	cmd      []string
	env      map[string]string
	labels   map[string]string
	ports    []string
	hostname string
	gpu      bool
	hc       func(*container.HostConfig)
	extra    []testcontainers.ContainerCustomizer
}

func (e *Engine) run(ctx context.Context, s runSpec) (*Container, error) {
	labels := maps.Clone(e.labels)
	maps.Copy(labels, s.labels)
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		testcontainers.WithCmd(s.cmd...),
		testcontainers.WithLabels(labels),
		testcontainers.WithEnv(s.env),
		testcontainers.WithConfigModifier(func(c *container.Config) {
			if s.hostname != "" {
				c.Hostname = s.hostname
			}
			// As on SageMaker: no TTY, stdin closed.
			c.Tty, c.OpenStdin, c.AttachStdin = false, false, false
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			// Ports are published on the loopback address only when the
			// engine is local: nothing else on the network reaches them.
			if ip, err := netip.ParseAddr(e.host); err == nil && ip.IsLoopback() {
				for _, p := range s.ports {
					if port, err := network.ParsePort(p); err == nil {
						if hc.PortBindings == nil {
							hc.PortBindings = network.PortMap{}
						}
						hc.PortBindings[port] = []network.PortBinding{{HostIP: ip}}
					}
				}
			}
			if s.hc != nil {
				s.hc(hc)
			}
			if s.gpu {
				hc.DeviceRequests = []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
			}
		}),
	}
	if len(s.ports) > 0 {
		opts = append(opts, testcontainers.WithExposedPorts(s.ports...))
	}
	opts = append(opts, s.extra...)
	tc, err := testcontainers.Run(ctx, s.image, opts...)
	if tc != nil && err != nil {
		// Created but not started: remove it now.
		tc.Terminate(context.WithoutCancel(ctx), testcontainers.StopTimeout(0))
	}
	if err != nil {
		if s.gpu && strings.Contains(err.Error(), "could not select device driver") {
			return nil, fmt.Errorf("starting %s with GPUs: %w", s.image, ErrNoGPURuntime)
		}
		return nil, fmt.Errorf("starting %s %s: %w", s.image, strings.Join(s.cmd, " "), err)
	}
	c := &Container{e: e, tc: tc, ID: tc.GetContainerID(), Started: time.Now(), labels: labels, done: make(chan struct{})}
	go c.watch(context.WithoutCancel(ctx))
	return c, nil
}

// watch records the exit of the container.
func (c *Container) watch(ctx context.Context) {
	defer close(c.done)
	w := c.e.dc.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		ran := time.Duration(-1)
		// The engine's own start and finish times are exact; ours lag by
		// the API round trips.
		if ins, err := c.e.dc.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil {
			st, err1 := time.Parse(time.RFC3339Nano, ins.Container.State.StartedAt)
			fi, err2 := time.Parse(time.RFC3339Nano, ins.Container.State.FinishedAt)
			if err1 == nil && err2 == nil && !fi.Before(st) {
				ran = fi.Sub(st)
			}
		}
		c.mu.Lock()
		c.exited, c.code, c.exitedAt, c.ran = true, int(r.StatusCode), time.Now(), ran
		c.mu.Unlock()
	case <-w.Error:
		// The container is gone (removed); nothing to record.
	}
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
	if _, err := c.e.dc.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGTERM"}); err != nil {
		// It may have exited before we heard of it.
		select {
		case <-c.done:
			_, code := c.Exited()
			return StopResult{AlreadyExited: true, ExitCode: code}, nil
		case <-time.After(5 * time.Second):
		}
		return StopResult{}, fmt.Errorf("sending SIGTERM: %w", err)
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
	if _, err := c.e.dc.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		// It may have exited just as the grace period ended.
		select {
		case <-c.done:
			_, code := c.Exited()
			return StopResult{Elapsed: res.Elapsed, ExitCode: code}, nil
		case <-time.After(5 * time.Second):
		}
		return res, fmt.Errorf("sending SIGKILL: %w", err)
	}
	code, err := c.Wait(ctx)
	res.ExitCode = code
	return res, err
}

// Logs returns the container's stdout and stderr, interleaved.
func (c *Container) Logs(ctx context.Context) ([]byte, error) {
	rc, err := c.e.dc.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, fmt.Errorf("reading logs: %w", err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil && !errors.Is(err, io.EOF) {
		return buf.Bytes(), fmt.Errorf("reading logs: %w", err)
	}
	return buf.Bytes(), nil
}

// Exec runs cmd inside the running container and returns its exit code and
// combined output.
func (c *Container) Exec(ctx context.Context, cmd ...string) (int, []byte, error) {
	code, r, err := c.tc.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return code, nil, fmt.Errorf("running %s in the container: %w", strings.Join(cmd, " "), err)
	}
	out, _ := io.ReadAll(r)
	return code, out, nil
}

// Remove force-removes the container. It works on a cancelled ctx, so it
// can run on the way out of an interrupted run.
func (c *Container) Remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := c.e.dc.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing container %s: %w", c.ID[:12], err)
	}
	return nil
}
