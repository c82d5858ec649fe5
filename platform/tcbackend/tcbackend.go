package tcbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/sagekit/sagekit/platform"
)

// Backend is a platform.Backend on testcontainers-go. It remembers the
// containers and networks it created, so that their testcontainers
// handles (and their reaper sessions) serve every later call; containers
// it did not create can still be waited for, signalled, read and removed.
type Backend struct {
	log tclog.Logger
	dc  *testcontainers.DockerClient

	mu   sync.Mutex
	ctrs map[string]*testcontainers.DockerContainer
	nets map[string]*testcontainers.DockerNetwork
}

var _ platform.Backend = (*Backend)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sends what testcontainers reports about each request
// (creating, starting, stopping a container) to l at debug level (default:
// discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New connects to the engine that testcontainers' configuration names
// (DOCKER_HOST, ~/.testcontainers.properties, the default socket).
func New(ctx context.Context, opts ...Option) (*Backend, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the container engine: %w", err)
	}
	return &Backend{
		log:  slogLogger{o.log},
		dc:   dc,
		ctrs: map[string]*testcontainers.DockerContainer{},
		nets: map[string]*testcontainers.DockerNetwork{},
	}, nil
}

// Close releases the engine client.
func (b *Backend) Close() error { return b.dc.Close() }

// slogLogger adapts a *slog.Logger to testcontainers' log.Logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "testcontainers")
}

// createTimeout bounds a create. As with platform.DockerBackend, a create
// is not cancelled with its context (the engine would finish it after the
// sweep of an interrupted run had looked); it runs to its end, and what it
// made is removed at once when the context was cancelled.
const createTimeout = 2 * time.Minute

func settled(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
}

// Create implements platform.Backend. A missing image is pulled first,
// with ctx (testcontainers reads registry credentials from the Docker
// configuration); the create itself then runs to its end.
func (b *Backend) Create(ctx context.Context, s platform.ContainerSpec) (string, error) {
	if err := b.ensureImage(ctx, s.Image); err != nil {
		return "", err
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range s.Ports {
		port, err := network.ParsePort(p)
		if err != nil {
			return "", fmt.Errorf("port %q: %w", p, err)
		}
		exposed[port] = struct{}{}
		pb := network.PortBinding{HostPort: "0"}
		if s.PublishIP.IsValid() {
			pb.HostIP = s.PublishIP
		}
		bindings[port] = []network.PortBinding{pb}
	}
	// The modifiers see the request testcontainers sends; a hook of ours
	// runs after testcontainers' own pre-create hook, which publishes every
	// port the image exposes when the request names none. Only the spec's
	// ports are published, as with the Engine API.
	var cfg *container.Config
	var hc *container.HostConfig
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:  s.Image,
			Cmd:    s.Cmd,
			Env:    maps.Clone(s.Env),
			Labels: maps.Clone(s.Labels),
			ConfigModifier: func(c *container.Config) {
				c.Hostname = s.Hostname
				// As on SageMaker: no TTY, stdin closed.
				c.Tty, c.OpenStdin, c.AttachStdin = false, false, false
				cfg = c
			},
			HostConfigModifier: func(h *container.HostConfig) {
				h.ExtraHosts = s.ExtraHosts
				for _, m := range s.Mounts {
					h.Mounts = append(h.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
				}
				if s.GPU {
					h.DeviceRequests = []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
				}
				if s.CPUShares > 0 {
					h.CPUShares = s.CPUShares
				}
				switch {
				case s.NoNetwork:
					h.NetworkMode = "none"
				case s.Network != nil:
					h.NetworkMode = container.NetworkMode(s.Network.Network)
				}
				hc = h
			},
			// testcontainers leaves a network out of the request when its
			// own look-up of it fails; the endpoint is set here instead, so
			// a container never lands on the default bridge, away from its
			// fixed address.
			EndpointSettingsModifier: func(eps map[string]*network.EndpointSettings) {
				clear(eps)
				if a := s.Network; a != nil {
					ep := &network.EndpointSettings{Aliases: a.Aliases}
					if a.IP.IsValid() {
						ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IP}
					}
					eps[a.Network] = ep
				}
			},
			LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
				PreCreates: []testcontainers.ContainerRequestHook{func(context.Context, testcontainers.ContainerRequest) error {
					if cfg == nil || hc == nil {
						return errors.New("testcontainers did not apply the container's settings")
					}
					cfg.ExposedPorts, hc.PortBindings = exposed, bindings
					return nil
				}},
			}},
		},
		Started: false,
		Logger:  b.log,
	}
	cctx, cancel := settled(ctx)
	c, err := testcontainers.GenericContainer(cctx, req)
	cancel()
	dc, _ := c.(*testcontainers.DockerContainer)
	if err != nil {
		if dc != nil && dc.GetContainerID() != "" {
			_ = b.terminate(context.WithoutCancel(ctx), dc)
		}
		if strings.Contains(err.Error(), "reaper") {
			return "", fmt.Errorf("creating the container: testcontainers' reaper (Ryuk) did not start; it runs the testcontainers/ryuk image, so offline set TESTCONTAINERS_RYUK_DISABLED=true: %w", err)
		}
		return "", fmt.Errorf("creating the container: %w", err)
	}
	if dc == nil {
		return "", fmt.Errorf("creating the container: testcontainers returned a %T", c)
	}
	if err := ctx.Err(); err != nil {
		_ = b.terminate(context.WithoutCancel(ctx), dc)
		return "", err
	}
	id := dc.GetContainerID()
	b.mu.Lock()
	b.ctrs[id] = dc
	b.mu.Unlock()
	return id, nil
}

// ensureImage pulls ref through testcontainers unless the engine has it.
func (b *Backend) ensureImage(ctx context.Context, ref string) error {
	_, err := b.dc.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(b.log))
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer p.Close()
	if err := p.PullImage(ctx, ref); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// container is the testcontainers handle of a container this backend made.
func (b *Backend) container(id string) (*testcontainers.DockerContainer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.ctrs[id]
	if !ok {
		return nil, fmt.Errorf("container %s: not created by this backend (or removed): %w", short(id), cerrdefs.ErrNotFound)
	}
	return c, nil
}

// Start implements platform.Backend.
func (b *Backend) Start(ctx context.Context, id string) error {
	c, err := b.container(id)
	if err != nil {
		return fmt.Errorf("starting the container: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		if strings.Contains(err.Error(), "could not select device driver") {
			return fmt.Errorf("starting the container: %w (%w)", platform.ErrNoGPURuntime, err)
		}
		return fmt.Errorf("starting the container: %w", err)
	}
	return nil
}

// Wait implements platform.Backend. testcontainers' container type has no
// wait; it goes to the engine client testcontainers made.
func (b *Backend) Wait(ctx context.Context, id string) (platform.Exit, error) {
	w := b.dc.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		ex := platform.Exit{Code: int(r.StatusCode), Ran: -1}
		if ins, err := b.dc.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil {
			st, err1 := time.Parse(time.RFC3339Nano, ins.Container.State.StartedAt)
			fi, err2 := time.Parse(time.RFC3339Nano, ins.Container.State.FinishedAt)
			if err1 == nil && err2 == nil && !fi.Before(st) {
				ex.Ran = fi.Sub(st)
			}
		}
		return ex, nil
	case err := <-w.Error:
		return platform.Exit{}, fmt.Errorf("waiting for the container: %w", err)
	}
}

// Kill implements platform.Backend. testcontainers stops containers but
// does not signal them; the signal goes through its engine client.
func (b *Backend) Kill(ctx context.Context, id, signal string) error {
	if _, err := b.dc.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal}); err != nil {
		return fmt.Errorf("sending %s: %w", signal, err)
	}
	return nil
}

// Exec implements platform.Backend.
func (b *Backend) Exec(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	c, err := b.container(id)
	if err != nil {
		return 0, nil, fmt.Errorf("running %s: %w", strings.Join(cmd, " "), err)
	}
	code, r, err := c.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return 0, nil, fmt.Errorf("running %s: %w", strings.Join(cmd, " "), err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the output of %s: %w", strings.Join(cmd, " "), err)
	}
	return code, out, nil
}

// Logs implements platform.Backend. testcontainers' Container.Logs merges
// stdout and stderr and cannot follow, so the logs come from its engine
// client.
func (b *Backend) Logs(ctx context.Context, id string, follow bool, stdout, stderr io.Writer) error {
	rc, err := b.dc.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading logs: %w", err)
	}
	return nil
}

// Port implements platform.Backend.
func (b *Backend) Port(ctx context.Context, id, port string) (string, error) {
	c, err := b.container(id)
	if err != nil {
		return "", err
	}
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", fmt.Errorf("port %s is not published: %w", port, err)
	}
	return strconv.Itoa(int(p.Num())), nil
}

// CreateNetwork implements platform.Backend.
func (b *Backend) CreateNetwork(ctx context.Context, s platform.NetworkSpec) (string, error) {
	opts := []tcnetwork.NetworkCustomizer{
		tcnetwork.WithDriver("bridge"),
		tcnetwork.WithAttachable(),
		tcnetwork.WithLabels(s.Labels),
	}
	if s.Internal {
		opts = append(opts, tcnetwork.WithInternal())
	}
	if s.Subnet.IsValid() {
		opts = append(opts, tcnetwork.WithIPAM(&network.IPAM{Config: []network.IPAMConfig{{Subnet: s.Subnet}}}))
	}
	cctx, cancel := settled(ctx)
	nw, err := tcnetwork.New(cctx, opts...)
	cancel()
	if err != nil {
		return "", fmt.Errorf("creating a network: %w", err)
	}
	if err := ctx.Err(); err != nil {
		_ = nw.Remove(context.WithoutCancel(ctx))
		return "", err
	}
	b.mu.Lock()
	b.nets[nw.Name] = nw
	b.mu.Unlock()
	return nw.Name, nil
}

// RemoveNetwork implements platform.Backend.
func (b *Backend) RemoveNetwork(ctx context.Context, name string) error {
	b.mu.Lock()
	nw := b.nets[name]
	b.mu.Unlock()
	var err error
	if nw != nil {
		err = nw.Remove(ctx)
	} else {
		_, err = b.dc.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	b.mu.Lock()
	delete(b.nets, name)
	b.mu.Unlock()
	return nil
}

// Remove implements platform.Backend.
func (b *Backend) Remove(ctx context.Context, id string) error {
	b.mu.Lock()
	c := b.ctrs[id]
	b.mu.Unlock()
	var err error
	if c != nil {
		err = b.terminate(ctx, c)
	} else if _, err = b.dc.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); isNotFound(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("removing container %s: %w", short(id), err)
	}
	b.mu.Lock()
	delete(b.ctrs, id)
	b.mu.Unlock()
	return nil
}

// terminate force-removes c (no grace period) and ends its reaper session.
func (b *Backend) terminate(ctx context.Context, c *testcontainers.DockerContainer) error {
	err := c.Terminate(ctx, testcontainers.StopTimeout(0))
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// List implements platform.Backend.
func (b *Backend) List(ctx context.Context, key, value string) ([]platform.Resource, error) {
	f := make(client.Filters).Add("label", key+"="+value)
	var out []platform.Resource
	cs, err := b.dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range cs.Items {
		out = append(out, platform.Resource{Kind: "container", ID: c.ID})
	}
	ns, err := b.dc.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return out, fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, platform.Resource{Kind: "network", ID: n.Name})
	}
	return out, nil
}

// isNotFound reports whether err says the container or network is gone;
// Terminate joins the errors of its steps, each of which may say so.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	if cerrdefs.IsNotFound(err) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "no such") || strings.Contains(msg, "not found")
}

// short is the 12-character form of a container id.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
