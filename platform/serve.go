package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// EndpointSpec is one hosting container as SageMaker would start it.
type EndpointSpec struct {
	// Image is the image reference in the local engine.
	Image string
	// ModelDir is the host directory mounted read-only at /opt/ml/model
	// (the unpacked model.tar.gz). Empty means an empty model directory.
	ModelDir string
	// ModelWritable mounts ModelDir read-write instead (SageMaker never
	// does; the suite uses it to tell a read-only problem from others).
	ModelWritable bool
	// Models maps multi-model names to host directories, each mounted
	// read-only at /opt/ml/models/<name>/model.
	Models map[string]string
	// ModelsDir, when set, is a host directory mounted read-only at
	// /opt/ml/models, where a multi-model endpoint finds each model it
	// is asked to load (files added later show through), and
	// SAGEMAKER_MULTI_MODEL is set to true.
	ModelsDir string
	// Env is the model's Environment; the platform adds its own variables.
	Env map[string]string
	// BindToPort, when non-zero, sets SAGEMAKER_BIND_TO_PORT (and
	// SAGEMAKER_SAFE_PORT_RANGE) as multi-container models do.
	BindToPort int
	// GPU attaches every GPU of the engine.
	GPU bool
	// Role labels the container (default "serve").
	Role string
	// CPUShares is the container's CPU weight against other containers
	// when the CPUs are busy (0: the engine's default); see ContainerSpec.
	CPUShares int64
}

// Endpoint is a started hosting container.
type Endpoint struct {
	*Container
	// URL is the base URL of the serving port on this machine.
	URL  string
	Port int
	tmp  string
}

// Serve starts `IMAGE serve` (CMD replaced by "serve") with the model
// mounted read-only, and returns once the container runs. Call WaitHealthy
// to wait for /ping, and Remove when done.
func (e *Engine) Serve(ctx context.Context, s EndpointSpec) (*Endpoint, error) {
	port := optml.DefaultPort
	env := map[string]string{}
	if s.BindToPort != 0 {
		port = s.BindToPort
		env[optml.EnvBindToPort] = strconv.Itoa(port)
		env[optml.EnvSafePortRange] = fmt.Sprintf("%d-%d", port+1, port+99)
	}
	if s.ModelsDir != "" {
		env[optml.EnvMultiModel] = "true"
	}
	maps.Copy(env, s.Env)
	ep := &Endpoint{Port: port}
	model := s.ModelDir
	if model == "" {
		d, err := os.MkdirTemp("", "sagekit-model-")
		if err != nil {
			return nil, fmt.Errorf("creating an empty model directory: %w", err)
		}
		ep.tmp, model = d, d
	}
	mounts := []Mount{{Source: model, Target: inContainer.Model(), ReadOnly: !s.ModelWritable}}
	if s.ModelsDir != "" {
		mounts = append(mounts, Mount{Source: s.ModelsDir, Target: inContainer.Models(), ReadOnly: true})
	}
	for _, name := range slices.Sorted(maps.Keys(s.Models)) {
		mounts = append(mounts, Mount{Source: s.Models[name], Target: path.Join(inContainer.Models(), name, "model"), ReadOnly: true})
	}
	role := s.Role
	if role == "" {
		role = "serve"
	}
	tcp := strconv.Itoa(port) + "/tcp"
	c, err := e.run(ctx, ContainerSpec{
		Image:     s.Image,
		Cmd:       []string{optml.CommandServe},
		Env:       env,
		Labels:    map[string]string{LabelRole: role},
		Ports:     []string{tcp},
		GPU:       s.GPU,
		Mounts:    mounts,
		CPUShares: s.CPUShares,
	})
	if err != nil {
		ep.cleanTmp()
		return nil, err
	}
	ep.Container = c
	hostPort, err := e.b.Port(ctx, c.ID, tcp)
	if err != nil {
		// A container that exits at once has no ports: report it as an
		// endpoint that exited (WaitHealthy says so), not as an error.
		select {
		case <-c.Done():
			return ep, nil
		case <-time.After(2 * time.Second):
		}
		ep.Remove(ctx)
		return nil, fmt.Errorf("finding the endpoint's port: %w", err)
	}
	ep.URL = "http://" + net.JoinHostPort(e.host, hostPort)
	return ep, nil
}

// Remove removes the container and any temporary model directory.
func (ep *Endpoint) Remove(ctx context.Context) error {
	defer ep.cleanTmp()
	if ep.Container == nil {
		return nil
	}
	return ep.Container.Remove(ctx)
}

func (ep *Endpoint) cleanTmp() {
	if ep.tmp != "" {
		os.RemoveAll(ep.tmp)
	}
}

// Health is what polling /ping found.
type Health struct {
	// Healthy is true once a ping returned 200 within the ping timeout.
	Healthy bool
	// Elapsed is the time from container start to the first healthy ping
	// (or to giving up).
	Elapsed time.Duration
	Pings   int
	// Answered is true when any ping got an HTTP response, whatever its
	// status or delay: something serves HTTP on the port.
	Answered bool
	// Slow counts pings that timed out after connecting.
	Slow int
	// LastStatus is the status of the last answered ping.
	LastStatus int
	LastErr    error
	// Exited is true when the container ended while being polled.
	Exited   bool
	ExitCode int
}

// WaitHealthy polls GET /ping as SageMaker does: each ping has pingTimeout
// (2 s on SageMaker), and the container must answer 200 within deadline of
// its start (4 minutes by default on SageMaker). Pings come 5 ms apart at
// first, the gap doubling up to 200 ms (see pingInterval).
func (ep *Endpoint) WaitHealthy(ctx context.Context, deadline, pingTimeout time.Duration) Health {
	var h Health
	if ep.URL == "" {
		<-ep.Done()
		_, h.ExitCode = ep.Exited()
		h.Exited, h.Elapsed = true, time.Since(ep.Started)
		return h
	}
	until := ep.Started.Add(deadline)
	slow := &http.Client{Timeout: pingTimeout + 8*time.Second}
	for {
		h.Pings++
		status, err := ep.ping(ctx, pingTimeout)
		switch {
		case err == nil:
			h.Answered, h.LastStatus, h.LastErr = true, status, nil
			if status == http.StatusOK {
				h.Healthy, h.Elapsed = true, time.Since(ep.Started)
				return h
			}
		case isTimeout(err):
			h.Slow++
			h.LastErr = err
			// Check once whether it answers at all, given more time.
			if h.Answered {
				break
			}
			if resp, err := slow.Get(ep.URL + optml.RoutePing); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h.Answered, h.LastStatus = true, resp.StatusCode
			}
		default:
			h.LastErr = err
		}
		if ok, code := ep.Exited(); ok {
			h.Exited, h.ExitCode, h.Elapsed = true, code, time.Since(ep.Started)
			return h
		}
		if time.Now().After(until) || ctx.Err() != nil {
			h.Elapsed = time.Since(ep.Started)
			return h
		}
		select {
		case <-time.After(pingInterval(h.Pings)):
		case <-ctx.Done():
		case <-ep.Done():
		}
	}
}

// pingInterval is the wait after the n-th ping (1-based): 5 ms, doubling
// up to 200 ms. A server that is up within a few milliseconds of its
// start is seen at once; a slow one is asked 5 times a second, as before.
func pingInterval(n int) time.Duration {
	d := 5 * time.Millisecond
	for i := 1; i < n && d < 200*time.Millisecond; i++ {
		d *= 2
	}
	return min(d, 200*time.Millisecond)
}

func (ep *Endpoint) ping(ctx context.Context, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL+optml.RoutePing, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
