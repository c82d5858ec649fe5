package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/platform"
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

With --config endpoint.yaml (docs/sagemaker.md) it runs the endpoint the file
describes, production variants and inference pipelines, each instance a
container, through the engine of 'sagekit local', and serves SageMaker
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
	f.StringVar(&o.model, "model", "", "model directory or model.tar.gz (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1", "address to serve on; 0.0.0.0 makes the endpoint reachable from other machines")
	f.IntVar(&o.port, "port", optml.DefaultPort, "local port to serve on (0: any free port)")
	f.DurationVar(&o.startupTimeout, "startup-timeout", platform.DefaultStartupTimeout, "deadline for the first 200 from /ping")
	o.sageMakerFlags(cmd)
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagFilename("model", "gz", "tgz")
	return cmd
}

func (o runEndpointOptions) check() error {
	if _, err := parseEnv(o.env); err != nil {
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
	dir, cleanup, err := platform.ModelDir(ctx, o.model, limits)
	if err != nil {
		return err
	}
	defer cleanup()
	e, done, err := runEngine(ctx, o.labels)
	if err != nil {
		return err
	}
	defer done()
	if err := ensureImage(ctx, e, o.image, o.pull, log); err != nil {
		return interrupted(ctx, err)
	}
	log.Info("starting the endpoint container", "image", o.image, "model", o.model)
	ep, err := e.Serve(ctx, platform.EndpointSpec{Image: o.image, ModelDir: dir, Env: env, GPU: o.gpu})
	if err != nil {
		return interrupted(ctx, err)
	}
	defer ep.Remove(ctx)
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		ep.FollowLogs(context.WithoutCancel(ctx), stderr, stderr)
	}()
	log.Info("waiting for GET /ping to answer 200", "every", pingEvery, "timeout", o.startupTimeout)
	h := waitHealthy(ctx, ep, o.startupTimeout, log)
	if !h.Healthy {
		if ctx.Err() != nil {
			return interrupted(ctx, ctx.Err())
		}
		return fmt.Errorf("%s did not become healthy: %s", o.image, describeHealth(h, o.startupTimeout))
	}
	target, err := url.Parse(ep.URL)
	if err != nil {
		return err
	}
	errLog := redact.Logger(stderr, "sagekit run endpoint: ", 0)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		FlushInterval: -1, // streaming responses go out as they come
		ErrorLog:      errLog,
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errLog}
	go srv.Serve(ln)
	local := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "%s is serving at %s (healthy after %s); Ctrl-C stops it\n", o.image, local, h.Elapsed.Round(10*time.Millisecond))
	fmt.Fprintf(stdout, "  curl -X POST %s%s -H 'Content-Type: text/csv' --data-binary @%s\n", local, optml.RouteInvocations, samplePayload())

	var result error
	select {
	case <-ctx.Done():
		log.Info("stopping: SIGTERM, then SIGKILL", "after", time.Duration(optml.HostingStopGraceSeconds)*time.Second)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), (optml.HostingStopGraceSeconds+10)*time.Second)
		st, err := ep.Stop(sctx, optml.HostingStopGraceSeconds*time.Second)
		cancel()
		switch {
		case err != nil:
			result = err
		case st.Killed:
			result = &ExitError{Code: 1, Err: fmt.Errorf("the container ignored SIGTERM for %ds and was killed: handle SIGTERM by finishing requests and exiting", optml.HostingStopGraceSeconds)}
		default:
			log.Info("stopped", "after", st.Elapsed.Round(10*time.Millisecond), "exit", st.ExitCode)
		}
	case <-ep.Done():
		_, code := ep.Exited()
		result = &ExitError{Code: 1, Err: fmt.Errorf("the container exited with code %d while serving", code)}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	srv.Shutdown(sctx)
	cancel()
	select {
	case <-logsDone:
	case <-time.After(2 * time.Second):
	}
	return result
}

// waitHealthy polls /ping as ep.WaitHealthy does and reports every 2 s
// how long it has waited.
func waitHealthy(ctx context.Context, ep *platform.Endpoint, deadline time.Duration, log *slog.Logger) platform.Health {
	res := make(chan platform.Health, 1)
	go func() { res <- ep.WaitHealthy(ctx, deadline, optml.PingTimeoutSeconds*time.Second) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case h := <-res:
			return h
		case <-tick.C:
			log.Info("still waiting for /ping", "waited", time.Since(ep.Started).Round(time.Second), "timeout", deadline)
		}
	}
}

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
