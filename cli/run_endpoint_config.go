package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/remote"
	"github.com/sagekit/sagekit/remote/spec"
)

// A local run of endpoint.yaml: the variants run on the Docker Engine
// through package local, the engine of 'sagekit local', driven in-process
// with the same requests a SageMaker run sends; only SageMaker Runtime's
// invocation route is served on --listen.

// localRole is the execution role of the models: recorded, never used.
const localRole = "arn:aws:iam::000000000000:role/sagekit-local"

// localInstanceType stands in for --instance-type local in the requests:
// SageMaker's API wants an ml.* type; locally it changes nothing.
const localInstanceType = "ml.m5.large"

// checkLocalSpec refuses what the local engine does not run, naming the
// field of endpoint.yaml (docs/local.md, Refused).
func checkLocalSpec(s *spec.Endpoint) error {
	var errs []error
	if len(s.Shadow) > 0 {
		errs = append(errs, errors.New("shadow: shadow variants are not supported locally; remove shadow:, or run on SageMaker with --instance-type ml.…"))
	}
	for _, v := range s.Variants {
		if v.MultiModel {
			errs = append(errs, fmt.Errorf("variant %q: multi-model is not supported locally; serve one model per variant, or run on SageMaker with --instance-type ml.…", v.Name))
		}
	}
	return errors.Join(errs...)
}

var (
	unsafeName = regexp.MustCompile(`[^a-zA-Z0-9]+`)
	nameRe     = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)
)

// localEndpointName is the endpoint's name when endpoint.yaml gives none:
// the image's repository, as a SageMaker name.
func localEndpointName(image string) string {
	base := image
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.IndexAny(base, ":@"); i >= 0 {
		base = base[:i]
	}
	n := strings.Trim(unsafeName.ReplaceAllString(base, "-"), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if n == "" {
		n = "endpoint"
	}
	return n
}

// handlerClient sends the AWS SDK's requests to a handler in-process, so
// the control plane listens nowhere.
type handlerClient struct{ h http.Handler }

func (c handlerClient) Do(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// runtimeOnly passes SageMaker Runtime's invocation route to h and answers
// 404 to anything else.
func runtimeOnly(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /endpoints/{name}/invocations", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sagekit run endpoint --config serves only POST /endpoints/NAME/invocations", http.StatusNotFound)
	})
	return mux
}

func runEndpointConfigLocal(ctx context.Context, stdout, stderr io.Writer, o runEndpointOptions) error {
	env, err := parseEnv(o.env)
	if err != nil {
		return err
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	limits, err := o.limits()
	if err != nil {
		return err
	}
	s, err := spec.Load(o.remote.config)
	if err != nil {
		return err
	}
	name := o.remote.name
	if name == "" {
		name = s.Name
	}
	if name == "" {
		name = localEndpointName(o.image)
	}
	model, err := dataURI("--model", o.model, true)
	if err != nil {
		return err
	}
	resolved, err := s.Resolve(spec.Defaults{Image: o.image, Model: model, InstanceType: localInstanceType, Env: env})
	if err != nil {
		return err
	}
	if err := checkLocalSpec(resolved); err != nil {
		return err
	}
	if !nameRe.MatchString(name) {
		return fmt.Errorf("endpoint name %q: use 1 to 63 letters, digits and hyphens", name)
	}
	var images []string
	for i := range resolved.Variants {
		v := &resolved.Variants[i]
		if v.Model, err = dataURI("variant "+v.Name+" model", v.Model, true); err != nil {
			return err
		}
		for k := range v.Containers {
			c := &v.Containers[k]
			if c.Model != "" {
				if c.Model, err = dataURI("variant "+v.Name+" model", c.Model, true); err != nil {
					return err
				}
			}
		}
		for _, st := range v.Steps() {
			images = append(images, st.Image)
		}
	}
	plan, err := remote.Endpoint{Name: name, Role: localRole, Spec: resolved, LocalFiles: true}.Plan()
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
	if err := ensureRunImages(ctx, o.labels, images, o.pull, log); err != nil {
		return err
	}
	state, err := runTemp("", "sagekit-endpoint-", log)
	if err != nil {
		return fmt.Errorf("creating the endpoint's state directory: %w", err)
	}
	defer os.RemoveAll(state)
	srv, closeEngine, err := localServer(ctx, o.backend, state, log, local.WithLabels(labels),
		local.WithHealthTimeout(o.startupTimeout), local.WithModelLimits(limits))
	if err != nil {
		return err
	}
	defer closeEngine()
	result := serveEndpointConfig(ctx, stdout, stderr, o, srv, ln, name, plan, log)
	log.Info("stopping: SIGTERM to every container, then removal")
	start := time.Now()
	if err := srv.Close(); err != nil {
		return errors.Join(result, fmt.Errorf("stopping the endpoint's containers: %w", err))
	}
	log.Info("stopped; no container left", "after", time.Since(start).Round(10*time.Millisecond))
	return result
}

// ensureRunImages checks that every image is in the Docker Engine
// (pulling it with pull).
func ensureRunImages(ctx context.Context, labels, images []string, pull bool, log *slog.Logger) error {
	// Images only: no container, so Docker's backend whatever
	// SAGEKIT_CONTAINER_BACKEND says.
	e, done, err := runEngine(ctx, backendDocker, labels, log)
	if err != nil {
		return err
	}
	defer done()
	seen := map[string]bool{}
	for _, img := range images {
		if seen[img] {
			continue
		}
		seen[img] = true
		if err := ensureImage(ctx, e, img, pull, log); err != nil {
			return interrupted(ctx, err)
		}
	}
	return nil
}

func serveEndpointConfig(ctx context.Context, stdout, stderr io.Writer, o runEndpointOptions, srv *local.Server, ln net.Listener, name string, plan *remote.EndpointPlan, log *slog.Logger) error {
	cfg := aws.Config{
		Region:      "local",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  handlerClient{srv.Handler()},
	}
	c := remote.New(cfg, remote.WithEndpointURL("http://sagekit.local"))
	if err := c.CreateEndpoint(ctx, plan); err != nil {
		return interrupted(ctx, err)
	}
	var vs []string
	for _, v := range plan.Config.ProductionVariants {
		vs = append(vs, fmt.Sprintf("%s (%s, weight %g)", aws.ToString(v.VariantName), plural(int(aws.ToInt32(v.InitialInstanceCount)), "instance"), aws.ToFloat32(v.InitialVariantWeight)))
	}
	log.Info("starting endpoint "+name, "variants", strings.Join(vs, ", "), "timeout", o.startupTimeout)
	started := time.Now()
	tail := c.Tail(remote.EndpointLogs(name), stderr)
	if _, err := c.WaitEndpoint(ctx, name, remote.WaitOptions{Every: pingEvery, OnProgress: progressPrinter(stderr)}); err != nil {
		tail.Poll(context.WithoutCancel(ctx))
		return interrupted(ctx, &ExitError{Code: 1, Err: err})
	}
	errLog := redact.Logger(stderr, "sagekit run endpoint: ", 0)
	hs := &http.Server{Handler: runtimeOnly(srv.Handler()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errLog}
	go hs.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		hs.Shutdown(sctx)
		cancel()
	}()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "endpoint %s is serving at %s/endpoints/%s/invocations (InService after %s); Ctrl-C stops it\n", name, url, name, time.Since(started).Round(10*time.Millisecond))
	fmt.Fprintf(stdout, "  sagekit invoke %s --endpoint-url %s --body %s --content-type text/csv [--variant %s]\n", name, url, samplePayload(), aws.ToString(plan.Config.ProductionVariants[0].VariantName))
	var failed error
	err := tail.Follow(ctx, time.Second, func(ctx context.Context) (bool, error) {
		d, err := c.DescribeEndpoint(ctx, name)
		if err != nil {
			return false, err
		}
		if d.EndpointStatus == "Failed" || d.EndpointStatus == "OutOfService" {
			failed = fmt.Errorf("endpoint %s is %s: %s", name, d.EndpointStatus, aws.ToString(d.FailureReason))
			return true, nil
		}
		return false, nil
	})
	if ctx.Err() != nil { // the lines since the last poll
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		tail.Poll(pctx)
		cancel()
	}
	switch {
	case failed != nil:
		return &ExitError{Code: 1, Err: failed}
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("following endpoint %s: %w", name, err)
	}
	return nil
}
