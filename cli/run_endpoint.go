package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/local/hosting"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/remote"
	"github.com/sagekit/sagekit/remote/spec"
	"github.com/sagekit/sagekit/sdk/optml"
)

type runEndpointOptions struct {
	commonRunOptions
	extractFlags
	model          string
	listen         string
	port           int
	startupTimeout time.Duration
	remote         remoteEndpointOptions
}

// pingEvery is how often run endpoint polls /ping while it waits.
const pingEvery = 200 * time.Millisecond

func newRunEndpointCmd() *cobra.Command {
	var o runEndpointOptions
	cmd := &cobra.Command{
		Use:   "endpoint IMAGE --model DIR|model.tar.gz",
		Short: "Serve a model locally until Ctrl-C",
		Long: fmt.Sprintf(`Runs "IMAGE serve" as a SageMaker endpoint does: the model (a directory, or a
model.tar.gz unpacked first) mounted read-only at /opt/ml/model. Then it polls
GET /ping every %s, each ping with SageMaker's %d s timeout, until one answers
200 or --startup-timeout passes, printing a progress line every 2 s. Once
healthy it prints the URL http://LISTEN:PORT (127.0.0.1:%d unless --listen
and --port say otherwise), which forwards to the container's port %d, and
follows the container's logs. The container's own port is published on
127.0.0.1 only.

Ctrl-C sends SIGTERM and SIGKILL %d s later, as SageMaker does, removes the
container and exits 130. IMAGE must be in the local Docker Engine (sagekit
build makes it); --pull pulls it from its registry instead.

The endpoint runs on the engine of 'sagekit local', in-process: an endpoint of
one variant (AllTraffic) of one instance, named after the image, created with
CreateModel, CreateEndpointConfig and CreateEndpoint.

With --config endpoint.yaml (docs/sagemaker.md) it runs the endpoint the file
describes, production variants and inference pipelines, each instance a
container, through the same engine, and serves SageMaker
Runtime's POST /endpoints/NAME/invocations on http://LISTEN:PORT: 'sagekit
invoke NAME --endpoint-url http://LISTEN:PORT [--variant V]' reaches it. Shadow
variants and multi-model mode are refused locally. Ctrl-C stops and removes
every container.`,
			pingEvery, optml.PingTimeoutSeconds, optml.DefaultPort, optml.DefaultPort, optml.HostingStopGraceSeconds),
		Example: `  sagekit run endpoint my-algo --model out/model.tar.gz
  sagekit run endpoint my-algo --model ./model --port 9000
  sagekit run endpoint my-algo --model out/model.tar.gz --listen 0.0.0.0   # reachable from other machines
  sagekit run endpoint my-algo --model out/model.tar.gz --config endpoint.yaml   # its variants, locally`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.resolve(cmd, args); err != nil {
				return err
			}
			if o.model == "" && o.remote.config == "" {
				return badFlags(cmd, errors.New("--model is required: the model directory or model.tar.gz to serve (with --config, each variant may name its own model instead)"))
			}
			if handled, err := dispatchEndpoint(cmd, o); handled {
				return err
			}
			if err := o.check(); err != nil {
				return badFlags(cmd, err)
			}
			if o.remote.config != "" {
				if o.gpu {
					return badFlags(cmd, errors.New("--gpu with --config: a local run of endpoint.yaml attaches no GPU; leave --gpu out"))
				}
				return runEndpointConfigLocal(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
			}
			return runEndpoint(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "the container did not answer /ping with 200 in time, exited while serving, or ignored SIGTERM; or IMAGE is not in the Docker Engine")
	o.commonRunOptions.flags(cmd)
	o.extractFlags.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory or model.tar.gz (required unless --config names each variant's model)")
	f.StringVar(&o.listen, "listen", "127.0.0.1", "address to serve on; 0.0.0.0 makes the endpoint reachable from other machines")
	f.IntVar(&o.port, "port", optml.DefaultPort, "local port to serve on (0: any free port)")
	f.DurationVar(&o.startupTimeout, "startup-timeout", platform.DefaultStartupTimeout, "deadline for the first 200 from /ping")
	o.sageMakerFlags(cmd)
	cmd.MarkFlagFilename("model", "gz", "tgz")
	return cmd
}

func (o runEndpointOptions) check() error {
	if _, err := parseEnv(o.env); err != nil {
		return err
	}
	if _, err := o.limits(); err != nil {
		return err
	}
	if o.port < 0 || o.port > 65535 {
		return fmt.Errorf("--port %d: want 0 to 65535", o.port)
	}
	if _, err := netip.ParseAddr(o.listen); err != nil && o.listen != "localhost" {
		return fmt.Errorf("--listen %s: want an IP address such as 127.0.0.1 or 0.0.0.0", o.listen)
	}
	return nil
}

func runEndpoint(ctx context.Context, stdout, stderr io.Writer, o runEndpointOptions) error {
	env, err := parseEnv(o.env)
	if err != nil {
		return err
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	log := o.logger(stderr)
	// Listen first, so a port in use is reported before anything starts.
	ln, err := net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("listening on %s port %d (use --port to pick another): %w", o.listen, o.port, err)
	}
	defer ln.Close()
	limits, err := o.limits()
	if err != nil {
		return err
	}
	plan, err := o.plan(env)
	if err != nil {
		return err
	}
	if err := ensureRunImages(ctx, o.labels, []string{o.image}, o.pull, log); err != nil {
		return err
	}
	state, err := runTemp("", "sagekit-endpoint-", log)
	if err != nil {
		return fmt.Errorf("creating the endpoint's state directory: %w", err)
	}
	defer os.RemoveAll(state)
	w := &endpointWatcher{stderr: stderr, healthy: make(chan struct{})}
	srv, closeEngine, err := localServer(ctx, o.backend, state, log, local.WithLabels(labels), local.WithGPU(o.gpu),
		local.WithHealthTimeout(o.startupTimeout), local.WithModelLimits(limits), local.WithEndpointObserver(w))
	if err != nil {
		return err
	}
	defer closeEngine()
	p := &endpointProxy{ln: ln, errLog: redact.Logger(stderr, "sagekit run endpoint: ", 0)}
	serving, result := serveEndpoint(ctx, stdout, srv, plan, w, p, o, log)
	if serving && ctx.Err() != nil {
		log.Info("stopping: SIGTERM, then SIGKILL", "after", time.Duration(optml.HostingStopGraceSeconds)*time.Second)
	}
	if err := srv.Close(); err != nil {
		result = errors.Join(result, fmt.Errorf("removing the endpoint's container: %w", err))
	}
	p.shutdown(ctx)
	if serving && ctx.Err() != nil && result == nil {
		result = w.stopResult(log)
	}
	return result
}

// plan is the CreateModel, CreateEndpointConfig and CreateEndpoint
// requests of the flags: one variant, AllTraffic, of one instance, its
// model a file:// URI. The endpoint is named by --name, else by the
// image's repository.
func (o runEndpointOptions) plan(env map[string]string) (*remote.EndpointPlan, error) {
	if _, err := os.Stat(o.model); err != nil {
		return nil, fmt.Errorf("finding the model: %w", err)
	}
	model, err := dataURI("--model", o.model, true)
	if err != nil {
		return nil, err
	}
	s, err := spec.Single().Resolve(spec.Defaults{Image: o.image, Model: model, InstanceType: localInstanceType, Env: env})
	if err != nil {
		return nil, err
	}
	name := o.remote.name
	if name == "" {
		name = localEndpointName(o.image)
	}
	return remote.Endpoint{Name: name, Role: localRole, Spec: s, LocalFiles: true}.Plan()
}

// serveEndpoint creates the endpoint on srv, through its API, waits until
// its container answers /ping and serves the container's port on p until
// ctx ends or the container exits; serving says whether it got that far.
func serveEndpoint(ctx context.Context, stdout io.Writer, srv *local.Server, plan *remote.EndpointPlan, w *endpointWatcher, p *endpointProxy, o runEndpointOptions, log *slog.Logger) (serving bool, err error) {
	sm := localSageMaker(srv)
	name := aws.ToString(plan.Endpoint.EndpointName)
	log.Info("starting the endpoint container", "image", o.image, "model", o.model)
	for _, m := range plan.Models {
		if _, err := sm.CreateModel(ctx, m); err != nil {
			return false, interrupted(ctx, localRequestError("creating model "+aws.ToString(m.ModelName), err))
		}
	}
	if _, err := sm.CreateEndpointConfig(ctx, plan.Config); err != nil {
		return false, interrupted(ctx, localRequestError("creating endpoint config "+name, err))
	}
	if _, err := sm.CreateEndpoint(ctx, plan.Endpoint); err != nil {
		return false, interrupted(ctx, localRequestError("creating endpoint "+name, err))
	}
	log.Info("waiting for GET /ping to answer 200", "every", pingEvery, "timeout", o.startupTimeout)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	healthy := w.healthy // nil once seen, as InService follows at once
	for {
		d, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)})
		if ctx.Err() != nil {
			return false, interrupted(ctx, ctx.Err())
		}
		if err != nil {
			return false, fmt.Errorf("describing endpoint %s: %w", name, err)
		}
		if d.EndpointStatus == types.EndpointStatusInService {
			break
		}
		if d.EndpointStatus == types.EndpointStatusFailed {
			if h, ok := w.health(); ok && !h.Healthy {
				return false, fmt.Errorf("%s did not become healthy: %s", o.image, describeHealth(h, o.startupTimeout))
			}
			return false, fmt.Errorf("endpoint %s failed: %s", name, aws.ToString(d.FailureReason))
		}
		select {
		case <-ctx.Done():
			return false, interrupted(ctx, ctx.Err())
		case <-tick.C:
			if waited := w.waited(); waited > 0 {
				log.Info("still waiting for /ping", "waited", waited.Round(time.Second), "timeout", o.startupTimeout)
			}
		case <-healthy:
			healthy = nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	c := w.container()
	h, _ := w.health()
	target, err := url.Parse(c.URL)
	if err != nil {
		return false, err
	}
	addr := p.serve(target)
	fmt.Fprintf(stdout, "%s is serving at %s (healthy after %s); Ctrl-C stops it\n", o.image, addr, h.Elapsed.Round(10*time.Millisecond))
	fmt.Fprintf(stdout, "  curl -X POST %s%s -H 'Content-Type: text/csv' --data-binary @%s\n", addr, optml.RouteInvocations, samplePayload())
	select {
	case <-ctx.Done():
		return true, nil
	case <-c.Done():
		_, code := c.Exited()
		return true, &ExitError{Code: 1, Err: fmt.Errorf("the container exited with code %d while serving", code)}
	}
}

// endpointProxy serves the container's port on --listen: requests and
// responses, streaming ones included, pass through unchanged.
type endpointProxy struct {
	ln     net.Listener
	errLog *stdlog.Logger
	srv    *http.Server
}

func (p *endpointProxy) serve(target *url.URL) string {
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		FlushInterval: -1, // streaming responses go out as they come
		ErrorLog:      p.errLog,
	}
	p.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: p.errLog}
	go p.srv.Serve(p.ln)
	return "http://" + p.ln.Addr().String()
}

func (p *endpointProxy) shutdown(ctx context.Context) {
	if p.srv == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p.srv.Shutdown(sctx)
}

// endpointWatcher sees the endpoint's container from inside the engine:
// its output, printed on stderr as it comes, its /ping result and URL,
// and how it stopped.
type endpointWatcher struct {
	stderr  io.Writer
	healthy chan struct{} // closed on the first 200 from /ping

	mu      sync.Mutex
	started time.Time
	c       *platform.Endpoint
	h       *platform.Health
	stop    *platform.StopResult
	stopErr error
}

var _ hosting.Observer = (*endpointWatcher)(nil)

func (w *endpointWatcher) ContainerOutput(_, _ string, c *platform.Endpoint) (io.Writer, io.Writer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = c.Started
	return w.stderr, w.stderr
}

func (w *endpointWatcher) ContainerHealth(_, _ string, c *platform.Endpoint, h platform.Health) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.c, w.h = c, &h
	if h.Healthy {
		close(w.healthy)
	}
}

func (w *endpointWatcher) ContainerStopped(_, _ string, _ *platform.Endpoint, st platform.StopResult, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop, w.stopErr = &st, err
}

func (w *endpointWatcher) health() (platform.Health, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h == nil {
		return platform.Health{}, false
	}
	return *w.h, true
}

func (w *endpointWatcher) container() *platform.Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c
}

// waited is how long the container has run (0 before it runs).
func (w *endpointWatcher) waited() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started.IsZero() {
		return 0
	}
	return time.Since(w.started)
}

// stopResult says how the container took Ctrl-C: nil when it exited
// within the grace period, an error when it was killed.
func (w *endpointWatcher) stopResult(log *slog.Logger) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopErr != nil:
		return w.stopErr
	case w.stop == nil:
		return errors.New("the engine did not say how the container stopped")
	case w.stop.Killed:
		return &ExitError{Code: 1, Err: fmt.Errorf("the container ignored SIGTERM for %ds and was killed: handle SIGTERM by finishing requests and exiting", optml.HostingStopGraceSeconds)}
	}
	log.Info("stopped", "after", w.stop.Elapsed.Round(10*time.Millisecond), "exit", w.stop.ExitCode)
	return nil
}

// describeHealth says why /ping never answered 200.
func describeHealth(h platform.Health, deadline time.Duration) string {
	switch {
	case h.Exited:
		return fmt.Sprintf("the container exited with code %d", h.ExitCode)
	case h.Answered:
		return fmt.Sprintf("/ping did not answer 200 within %s (last status %d)", deadline, h.LastStatus)
	default:
		return fmt.Sprintf("nothing answered on port %d within %s (%v): the server must listen on 0.0.0.0:%d", optml.DefaultPort, deadline, h.LastErr, optml.DefaultPort)
	}
}
