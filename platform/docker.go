package platform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
)

// DockerBackend runs containers on a Docker Engine through its API client.
// Every setting travels with each call: nothing is read from, or written
// to, the process environment once the client exists.
type DockerBackend struct {
	dc       *client.Client
	keychain authn.Keychain
}

var _ Backend = (*DockerBackend)(nil)

// NewDockerBackend runs containers through dc. Images missing from the
// engine are pulled with credentials from keychain (nil:
// authn.DefaultKeychain, the Docker configuration and its helpers).
func NewDockerBackend(dc *client.Client, keychain authn.Keychain) *DockerBackend {
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	return &DockerBackend{dc: dc, keychain: keychain}
}

// Create implements Backend.
func (d *DockerBackend) Create(ctx context.Context, s ContainerSpec) (string, error) {
	if err := d.ensureImage(ctx, s.Image); err != nil {
		return "", err
	}
	env := make([]string, 0, len(s.Env))
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		env = append(env, k+"="+s.Env[k])
	}
	cfg := &container.Config{
		Image:    s.Image,
		Cmd:      s.Cmd,
		Env:      env,
		Labels:   s.Labels,
		Hostname: s.Hostname,
		// As on SageMaker: no TTY, stdin closed.
		Tty: false, OpenStdin: false, AttachStdin: false,
	}
	hc := &container.HostConfig{ExtraHosts: s.ExtraHosts}
	for _, m := range s.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if len(s.Ports) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		hc.PortBindings = network.PortMap{}
		for _, p := range s.Ports {
			port, err := network.ParsePort(p)
			if err != nil {
				return "", fmt.Errorf("port %q: %w", p, err)
			}
			cfg.ExposedPorts[port] = struct{}{}
			b := network.PortBinding{HostPort: "0"}
			if s.PublishIP.IsValid() {
				b.HostIP = s.PublishIP
			}
			hc.PortBindings[port] = []network.PortBinding{b}
		}
	}
	if s.GPU {
		hc.DeviceRequests = []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
	}
	if s.CPUShares > 0 {
		hc.CPUShares = s.CPUShares
	}
	if s.NoNetwork {
		hc.NetworkMode = "none"
	}
	nc := &network.NetworkingConfig{}
	if a := s.Network; a != nil {
		hc.NetworkMode = container.NetworkMode(a.Network)
		ep := &network.EndpointSettings{Aliases: a.Aliases}
		if a.IP.IsValid() {
			ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IP}
		}
		nc.EndpointsConfig = map[string]*network.EndpointSettings{a.Network: ep}
	}
	cctx, cancel := settled(ctx)
	res, err := d.dc.ContainerCreate(cctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	cancel()
	if err != nil {
		return "", fmt.Errorf("creating the container: %w", err)
	}
	if err := ctx.Err(); err != nil {
		_ = d.Remove(context.WithoutCancel(ctx), res.ID)
		return "", err
	}
	return res.ID, nil
}

// createTimeout bounds an engine call that makes a container or a network.
// Such a call is not cancelled with its context: the Engine finishes a
// create whose client went away, and what it made would appear after the
// sweep of an interrupted run had looked. The call runs to its end instead,
// and what it made is removed at once when the context was cancelled.
const createTimeout = 2 * time.Minute

func settled(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
}

// ensureImage pulls ref unless the engine has it.
func (d *DockerBackend) ensureImage(ctx context.Context, ref string) error {
	_, err := d.dc.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	auth, err := d.registryAuth(ref)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	resp, err := d.dc.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// registryAuth is the engine's X-Registry-Auth value for ref ("" for
// anonymous access).
func (d *DockerBackend) registryAuth(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("parsing the image reference: %w", err)
	}
	a, err := d.keychain.Resolve(r.Context())
	if err != nil {
		return "", fmt.Errorf("finding registry credentials: %w", err)
	}
	if a == authn.Anonymous {
		return "", nil
	}
	c, err := a.Authorization()
	if err != nil {
		return "", fmt.Errorf("finding registry credentials: %w", err)
	}
	b, err := json.Marshal(registry.AuthConfig{
		Username: c.Username, Password: c.Password, Auth: c.Auth,
		IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
		ServerAddress: r.Context().RegistryStr(),
	})
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// Start implements Backend.
func (d *DockerBackend) Start(ctx context.Context, id string) error {
	if _, err := d.dc.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if strings.Contains(err.Error(), "could not select device driver") {
			return fmt.Errorf("starting the container: %w (%w)", ErrNoGPURuntime, err)
		}
		return fmt.Errorf("starting the container: %w", err)
	}
	return nil
}

// Wait implements Backend.
func (d *DockerBackend) Wait(ctx context.Context, id string) (Exit, error) {
	w := d.dc.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		ex := Exit{Code: int(r.StatusCode), Ran: -1}
		// The engine's own start and finish times are exact; the caller's
		// lag by the API round trips.
		if ins, err := d.dc.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil {
			st, err1 := time.Parse(time.RFC3339Nano, ins.Container.State.StartedAt)
			fi, err2 := time.Parse(time.RFC3339Nano, ins.Container.State.FinishedAt)
			if err1 == nil && err2 == nil && !fi.Before(st) {
				ex.Ran = fi.Sub(st)
			}
		}
		return ex, nil
	case err := <-w.Error:
		return Exit{}, fmt.Errorf("waiting for the container: %w", err)
	}
}

// Kill implements Backend.
func (d *DockerBackend) Kill(ctx context.Context, id, signal string) error {
	if _, err := d.dc.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal}); err != nil {
		return fmt.Errorf("sending %s: %w", signal, err)
	}
	return nil
}

// Exec implements Backend.
func (d *DockerBackend) Exec(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	ex, err := d.dc.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, nil, fmt.Errorf("creating the exec: %w", err)
	}
	att, err := d.dc.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, nil, fmt.Errorf("attaching to the exec: %w", err)
	}
	defer att.Close()
	// The engine closes the stream once the process ends; read it all
	// before asking for the exit code.
	var out bytes.Buffer
	drained := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, att.Reader)
		drained <- err
	}()
	select {
	case err := <-drained:
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, nil, fmt.Errorf("reading the exec's output: %w", err)
		}
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	// The engine marks the exec stopped shortly after closing the stream.
	for {
		ins, err := d.dc.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, nil, fmt.Errorf("inspecting the exec: %w", err)
		}
		if !ins.Running {
			return ins.ExitCode, out.Bytes(), nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Logs implements Backend.
func (d *DockerBackend) Logs(ctx context.Context, id string, follow bool, stdout, stderr io.Writer) error {
	rc, err := d.dc.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Port implements Backend.
func (d *DockerBackend) Port(ctx context.Context, id, port string) (string, error) {
	want, err := network.ParsePort(port)
	if err != nil {
		return "", fmt.Errorf("port %q: %w", port, err)
	}
	ins, err := d.dc.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspecting the container: %w", err)
	}
	if ins.Container.NetworkSettings != nil {
		for k, bs := range ins.Container.NetworkSettings.Ports {
			if k.Num() == want.Num() && k.Proto() == want.Proto() && len(bs) > 0 && bs[0].HostPort != "" {
				return bs[0].HostPort, nil
			}
		}
	}
	return "", fmt.Errorf("port %s is not published", port)
}

// CreateNetwork implements Backend.
func (d *DockerBackend) CreateNetwork(ctx context.Context, s NetworkSpec) (string, error) {
	nm := "sagekit-" + randomHex(6)
	opts := client.NetworkCreateOptions{Driver: "bridge", Internal: s.Internal, Attachable: true, Labels: s.Labels}
	if s.Subnet.IsValid() {
		opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: s.Subnet}}}
	}
	cctx, cancel := settled(ctx)
	_, err := d.dc.NetworkCreate(cctx, nm, opts)
	cancel()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		_ = d.RemoveNetwork(context.WithoutCancel(ctx), nm)
		return "", err
	}
	return nm, nil
}

// RemoveNetwork implements Backend.
func (d *DockerBackend) RemoveNetwork(ctx context.Context, name string) error {
	if _, err := d.dc.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	return nil
}

// Remove implements Backend.
func (d *DockerBackend) Remove(ctx context.Context, id string) error {
	if _, err := d.dc.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing container %s: %w", short(id), err)
	}
	return nil
}

// List implements Backend.
func (d *DockerBackend) List(ctx context.Context, key, value string) ([]Resource, error) {
	f := make(client.Filters).Add("label", key+"="+value)
	var out []Resource
	cs, err := d.dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range cs.Items {
		out = append(out, Resource{Kind: "container", ID: c.ID})
	}
	ns, err := d.dc.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return out, fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, Resource{Kind: "network", ID: n.Name})
	}
	return out, nil
}

func isNotFound(err error) bool {
	return err != nil && (cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "No such") || strings.Contains(strings.ToLower(err.Error()), "not found"))
}

// short is the 12-character form of a container id.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
