// Package platformtest plays a container engine in memory for unit tests of
// package platform and of what builds on it: a Backend whose containers are
// Go functions. A container's process sees its spec, writes to its bind
// mounts on the host, prints to stdout and stderr, receives SIGTERM, serves
// HTTP on its published port and answers exec; SIGKILL and removal end it.
// Networks are recorded, their containers resolve each other's aliases,
// and removing one that a running container uses fails, as on the Docker
// Engine.
package platformtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/platform"
)

// ErrNotFound is returned (wrapped) for a container or network the backend
// does not know or has removed.
var ErrNotFound = errors.New("not found")

// Backend is an in-memory platform.Backend. Set its fields before the first
// container is created.
type Backend struct {
	// Run is a container's main process: it returns the exit code. ctx
	// ends when the container is killed or removed. Nil: exit 0 at once.
	Run func(ctx context.Context, p *Process) int
	// OnExec answers exec calls (nil: exit 0, no output).
	OnExec func(ctx context.Context, p *Process, cmd []string) (int, []byte)
	// GPUs says whether the engine has a GPU runtime; without one, a
	// container asking for GPUs fails to start with
	// platform.ErrNoGPURuntime.
	GPUs bool

	mu         sync.Mutex
	n          int
	containers map[string]*Process
	order      []string
	networks   map[string]platform.NetworkSpec
}

var _ platform.Backend = (*Backend)(nil)

// Process is one container: its spec and its state.
type Process struct {
	ID   string
	Spec platform.ContainerSpec

	b       *Backend
	signals chan string
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	lns     map[string]net.Listener
	srvs    []*http.Server
	cancel  context.CancelFunc
	started bool
	startAt time.Time
	exited  bool
	code    int
	ran     time.Duration
	removed bool
	sent    []string
	done    chan struct{} // closed on exit or removal
}

// Signals delivers SIGTERM sent to the container (SIGKILL ends it instead).
func (p *Process) Signals() <-chan string { return p.signals }

// Stdout is the container's standard output.
func (p *Process) Stdout() io.Writer {
	return writerFunc(func(b []byte) (int, error) { return p.write(&p.stdout, b) })
}

// Stderr is the container's standard error.
func (p *Process) Stderr() io.Writer {
	return writerFunc(func(b []byte) (int, error) { return p.write(&p.stderr, b) })
}

func (p *Process) write(buf *bytes.Buffer, b []byte) (int, error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return buf.Write(b)
}

// HostPath returns where the container path target lies on the host,
// through the bind mount holding it ("" when no mount does).
func (p *Process) HostPath(target string) string {
	best := -1
	var src string
	for _, m := range p.Spec.Mounts {
		t := path.Clean(m.Target)
		if target != t && !strings.HasPrefix(target, t+"/") {
			continue
		}
		if len(t) > best {
			best, src = len(t), filepath.Join(m.Source, filepath.FromSlash(strings.TrimPrefix(target, t)))
		}
	}
	return src
}

// Serve answers HTTP with h on the container's published port ("8080/tcp"),
// until the container ends.
func (p *Process) Serve(port string, h http.Handler) error {
	p.b.mu.Lock()
	ln, ok := p.lns[port]
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if ok {
		p.srvs = append(p.srvs, srv)
	}
	p.b.mu.Unlock()
	if !ok {
		return fmt.Errorf("port %s is not published", port)
	}
	go srv.Serve(ln)
	return nil
}

// LookupHost resolves name as the container would: its /etc/hosts
// (ExtraHosts, its own host name) first, then the network's DNS, which
// knows the aliases of the running containers on its network.
func (p *Process) LookupHost(name string) (netip.Addr, bool) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	for _, h := range p.Spec.ExtraHosts {
		if n, a, ok := strings.Cut(h, ":"); ok && n == name {
			addr, err := netip.ParseAddr(a)
			return addr, err == nil
		}
	}
	nw := p.Spec.Network
	if nw == nil {
		return netip.Addr{}, false
	}
	if name == p.Spec.Hostname && nw.IP.IsValid() {
		return nw.IP, true
	}
	for _, id := range p.b.order {
		q := p.b.containers[id]
		if !q.started || q.exited || q.removed || q.Spec.Network == nil || q.Spec.Network.Network != nw.Network {
			continue
		}
		if slices.Contains(q.Spec.Network.Aliases, name) && q.Spec.Network.IP.IsValid() {
			return q.Spec.Network.IP, true
		}
	}
	return netip.Addr{}, false
}

// Env returns the value of one of the container's variables.
func (p *Process) Env(key string) string { return p.Spec.Env[key] }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Container is what a test sees of a container after the fact.
type Container struct {
	ID   string
	Spec platform.ContainerSpec
	// Signals lists the signals sent, in order.
	Signals  []string
	Exited   bool
	ExitCode int
	Removed  bool
	Stdout   string
	Stderr   string
}

// Containers lists every container created, in order.
func (b *Backend) Containers() []Container {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Container, 0, len(b.order))
	for _, id := range b.order {
		p := b.containers[id]
		out = append(out, Container{ID: id, Spec: p.Spec, Signals: append([]string(nil), p.sent...), Exited: p.exited, ExitCode: p.code,
			Removed: p.removed, Stdout: p.stdout.String(), Stderr: p.stderr.String()})
	}
	return out
}

// Networks returns the networks that exist now, by name.
func (b *Backend) Networks() map[string]platform.NetworkSpec {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.networks)
}

func (b *Backend) get(id string) (*Process, error) {
	p, ok := b.containers[id]
	if !ok || p.removed {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	return p, nil
}

// Create implements platform.Backend.
func (b *Backend) Create(ctx context.Context, s platform.ContainerSpec) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.Image == "" {
		return "", errors.New("creating the container: no image")
	}
	if s.Network != nil {
		if _, ok := b.networks[s.Network.Network]; !ok {
			return "", fmt.Errorf("creating the container: network %s: %w", s.Network.Network, ErrNotFound)
		}
	}
	if b.containers == nil {
		b.containers = map[string]*Process{}
	}
	b.n++
	id := fmt.Sprintf("%064x", b.n)
	s.Env, s.Labels = maps.Clone(s.Env), maps.Clone(s.Labels)
	b.containers[id] = &Process{ID: id, Spec: s, b: b, signals: make(chan string, 4), lns: map[string]net.Listener{}, done: make(chan struct{})}
	b.order = append(b.order, id)
	return id, nil
}

// Start implements platform.Backend.
func (b *Backend) Start(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.get(id)
	if err != nil {
		return err
	}
	if p.started {
		return fmt.Errorf("container %s is already started", id)
	}
	if p.Spec.GPU && !b.GPUs {
		return fmt.Errorf("starting the container: %w", platform.ErrNoGPURuntime)
	}
	for _, port := range p.Spec.Ports {
		// Published on PublishIP when set, else (where the engine would
		// use every address) on the loopback address only.
		ip := "127.0.0.1"
		if p.Spec.PublishIP.IsValid() {
			ip = p.Spec.PublishIP.String()
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return fmt.Errorf("publishing %s: %w", port, err)
		}
		p.lns[port] = ln
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.started, p.startAt, p.cancel = true, time.Now(), cancel
	run := b.Run
	go func() {
		code := 0
		if run != nil {
			code = run(pctx, p)
		}
		b.exit(p, code)
	}()
	return nil
}

// exit records the end of p's process unless it already ended.
func (b *Backend) exit(p *Process, code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.exited || p.removed {
		return
	}
	p.exited, p.code, p.ran = true, code, time.Since(p.startAt)
	b.stop(p)
}

// stop ends p's process and its servers; b.mu is held.
func (b *Backend) stop(p *Process) {
	if p.cancel != nil {
		p.cancel()
	}
	for _, s := range p.srvs {
		s.Close()
	}
	for _, ln := range p.lns {
		ln.Close()
	}
	select {
	case <-p.done:
	default:
		close(p.done)
	}
}

// Wait implements platform.Backend.
func (b *Backend) Wait(ctx context.Context, id string) (platform.Exit, error) {
	b.mu.Lock()
	p, err := b.get(id)
	b.mu.Unlock()
	if err != nil {
		return platform.Exit{}, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return platform.Exit{}, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.removed && !p.exited {
		return platform.Exit{}, fmt.Errorf("container %s was removed: %w", id, ErrNotFound)
	}
	return platform.Exit{Code: p.code, Ran: p.ran}, nil
}

// Kill implements platform.Backend: SIGKILL ends the container with code
// 137; other signals go to Process.Signals.
func (b *Backend) Kill(ctx context.Context, id, signal string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.get(id)
	if err != nil {
		return err
	}
	if !p.started || p.exited {
		return fmt.Errorf("sending %s: container %s is not running", signal, id)
	}
	p.sent = append(p.sent, signal)
	if signal == "SIGKILL" {
		p.exited, p.code, p.ran = true, 137, time.Since(p.startAt)
		b.stop(p)
		return nil
	}
	select {
	case p.signals <- signal:
	default:
	}
	return nil
}

// Exec implements platform.Backend.
func (b *Backend) Exec(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	b.mu.Lock()
	p, err := b.get(id)
	running := err == nil && p.started && !p.exited
	exec := b.OnExec
	b.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	if !running {
		return 0, nil, fmt.Errorf("container %s is not running", id)
	}
	if exec == nil {
		return 0, nil, nil
	}
	code, out := exec(ctx, p, cmd)
	return code, out, nil
}

// Logs implements platform.Backend. With follow it copies what the
// container writes as it writes it (every 10 ms) and returns once the
// container has ended or ctx ends.
func (b *Backend) Logs(ctx context.Context, id string, follow bool, stdout, stderr io.Writer) error {
	b.mu.Lock()
	p, err := b.get(id)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	var no, ne int // bytes of stdout and stderr copied so far
	flush := func() error {
		b.mu.Lock()
		o, e := bytes.Clone(p.stdout.Bytes()[no:]), bytes.Clone(p.stderr.Bytes()[ne:])
		b.mu.Unlock()
		no, ne = no+len(o), ne+len(e)
		if _, err := stdout.Write(o); len(o) > 0 && err != nil {
			return err
		}
		if _, err := stderr.Write(e); len(e) > 0 && err != nil {
			return err
		}
		return nil
	}
	if !follow {
		return flush()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := flush(); err != nil {
			return err
		}
		select {
		case <-p.done:
			return flush()
		case <-ctx.Done():
			return flush()
		case <-tick.C:
		}
	}
}

// Port implements platform.Backend: ports are published on 127.0.0.1.
func (b *Backend) Port(ctx context.Context, id, port string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.get(id)
	if err != nil {
		return "", err
	}
	ln, ok := p.lns[port]
	if !ok || p.exited {
		return "", fmt.Errorf("port %s is not published", port)
	}
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// CreateNetwork implements platform.Backend.
func (b *Backend) CreateNetwork(ctx context.Context, s platform.NetworkSpec) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.networks == nil {
		b.networks = map[string]platform.NetworkSpec{}
	}
	for n, o := range b.networks {
		if s.Subnet.IsValid() && o.Subnet.Overlaps(s.Subnet) {
			return "", fmt.Errorf("creating a network: Pool overlaps with other one on this address space (%s)", n)
		}
	}
	b.n++
	name := fmt.Sprintf("fake-net-%d", b.n)
	s.Labels = maps.Clone(s.Labels)
	b.networks[name] = s
	return name, nil
}

// RemoveNetwork implements platform.Backend.
func (b *Backend) RemoveNetwork(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.networks[name]; !ok {
		return nil
	}
	// As on the Docker Engine, only a running container holds an
	// endpoint: one that has exited does not keep its network.
	for _, id := range b.order {
		p := b.containers[id]
		if p.started && !p.exited && !p.removed && p.Spec.Network != nil && p.Spec.Network.Network == name {
			return fmt.Errorf("removing network %s: it has active endpoints (container %s)", name, id[:12])
		}
	}
	delete(b.networks, name)
	return nil
}

// Remove implements platform.Backend.
func (b *Backend) Remove(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.containers[id]
	if !ok || p.removed {
		return nil
	}
	p.removed = true
	b.stop(p)
	return nil
}

// List implements platform.Backend.
func (b *Backend) List(ctx context.Context, key, value string) ([]platform.Resource, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []platform.Resource
	for _, id := range b.order {
		p := b.containers[id]
		if v, ok := p.Spec.Labels[key]; ok && v == value && !p.removed {
			out = append(out, platform.Resource{Kind: "container", ID: id})
		}
	}
	for name, s := range b.networks {
		if v, ok := s.Labels[key]; ok && v == value {
			out = append(out, platform.Resource{Kind: "network", ID: name})
		}
	}
	return out, nil
}
