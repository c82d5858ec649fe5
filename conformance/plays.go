package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

const (
	bindPort = 9081
	mmModel  = "sagekit-model-a"
	// largeSize is just under InvokeEndpoint's 6 MiB body limit.
	largeSize = optml.MaxPayloadBytes - 4096
)

// runner carries what the plays share.
type runner struct {
	e    *platform.Engine
	opts *options
	o    *observations
	dir  string
}

func (r *runner) job(name string) platform.TrainingJob {
	l := optml.Layout{Hyperparameters: optml.Hyperparameters(r.opts.hyperparameters)}
	if len(r.opts.data) == 0 {
		data := r.opts.payload
		if !lineBased(r.opts.contentType) {
			data = defaults().payload
		}
		l.Channels = map[string]map[string][]byte{DefaultChannel: {"data.csv": labelled(data)}}
		l.ChannelConfig = map[string]optml.Channel{DefaultChannel: {TrainingInputMode: optml.InputModeFile, S3DistributionType: "FullyReplicated", RecordWrapperType: "None", ContentType: "text/csv"}}
	}
	return platform.TrainingJob{
		Image:       r.o.image.Ref,
		Name:        "sagekit-conformance-" + r.opts.runID + "-" + name,
		Layout:      l,
		ChannelDirs: r.opts.data,
		StopGrace:   r.opts.windows.TrainingGrace,
		MaxRuntime:  r.opts.windows.TrainingTimeout,
		Dir:         filepath.Join(r.dir, name),
		GPU:         false,
	}
}

// criticalShares is the CPU weight of the containers on the run's longest
// chain, the training run and then the serving container on its model
// (the engine's default is 1024). The other plays run beside them and
// take what CPU is left: on a busy machine the run ends sooner, and on an
// idle one nothing changes. Weights never change what a container does.
const criticalShares = 4096

func (r *runner) playTrain(ctx context.Context) {
	j := r.job("train")
	j.NetworkIsolation = r.opts.networkIsolation
	j.CPUShares = criticalShares
	r.o.train, r.o.trainErr = r.e.Train(ctx, j)
	if r.o.train != nil && len(r.o.train.Hosts) > 0 {
		r.o.modelFiles = listFiles(r.o.train.Hosts[0].Paths.Model())
	}
}

// provokedRun is a training run set up to fail, and how.
type provokedRun struct {
	how string
	tr  *platform.Training
	err error
}

// badHyperparameter is the value of every hyperparameter in the
// bad-hyperparameter run: not a number, not a boolean, not JSON.
const badHyperparameter = "sagekit-not-a-valid-value"

// templateHyperparameters are the hyperparameters sagekit's templates
// validate; the bad-hyperparameter run sets them too.
var templateHyperparameters = []string{"max_depth", "min_samples_split", "max_leaf_nodes", "epochs"}

// playFailure makes training fail in several ways, all at once: a
// read-only /opt/ml/model (so the model cannot be saved), every
// hyperparameter set to a value no program accepts, and no input channel
// at all. A run that still succeeds says nothing; one that fails must leave
// a failure file (C-TR-04).
func (r *runner) playFailure(ctx context.Context) {
	readOnly := r.job("failure")
	readOnly.ReadOnlyModel = true

	badHP := r.job("failure-hyperparameter")
	hps := optml.Hyperparameters{}
	for k := range r.opts.hyperparameters {
		hps[k] = badHyperparameter
	}
	for _, k := range templateHyperparameters {
		hps[k] = badHyperparameter
	}
	badHP.Layout.Hyperparameters = hps

	noChannel := r.job("failure-channel")
	noChannel.Layout.Channels, noChannel.Layout.ChannelConfig, noChannel.ChannelDirs = nil, nil, nil

	runs := []provokedRun{
		{how: "with /opt/ml/model read-only"},
		{how: "with every hyperparameter set to " + strconv.Quote(badHyperparameter)},
		{how: "without any input channel"},
	}
	var wg sync.WaitGroup
	for i, j := range []platform.TrainingJob{readOnly, badHP, noChannel} {
		wg.Go(func() { runs[i].tr, runs[i].err = r.e.Train(ctx, j) })
	}
	wg.Wait()
	r.o.failure, r.o.failureErr = runs[0].tr, runs[0].err
	r.o.provoked = runs
}

// failedWithoutReason lists every training run the suite made, set up to
// fail or not, that exited non-zero without a non-empty failure file.
// Stopped runs (SIGTERM) are left out: SageMaker reports those as Stopped.
func (o *observations) failedWithoutReason() []string {
	runs := []provokedRun{{"the valid job", o.train, o.trainErr}, {"with network isolation", o.isolated, o.isolatedErr}, {"on two hosts", o.multi, o.multiErr}}
	runs = append(runs, o.provoked...)
	var bad []string
	for _, run := range runs {
		if run.tr == nil {
			continue
		}
		for _, h := range run.tr.Hosts {
			switch {
			case h.StartErr != nil || h.ExitCode == 0:
			case !h.HasFailureFile:
				bad = append(bad, fmt.Sprintf("the run %s exited %d on %s without writing /opt/ml/output/failure%s", run.how, h.ExitCode, h.Host, logTail(h.Logs)))
			case strings.TrimSpace(h.Failure) == "":
				bad = append(bad, fmt.Sprintf("the run %s exited %d on %s and left /opt/ml/output/failure empty", run.how, h.ExitCode, h.Host))
			}
		}
	}
	return bad
}

func (r *runner) playSigterm(ctx context.Context) {
	j := r.job("sigterm")
	j.StopAfter = r.opts.windows.SigtermAfter
	j.StopSilent = r.opts.windows.SigtermSilent
	r.o.sigterm, r.o.sigtermErr = r.e.Train(ctx, j)
}

func (r *runner) playIsolated(ctx context.Context) {
	j := r.job("isolated")
	j.NetworkIsolation = true
	r.o.isolated, r.o.isolatedErr = r.e.Train(ctx, j)
}

func (r *runner) playMultiHost(ctx context.Context, layersDone <-chan struct{}) {
	j := r.job("multi-host")
	j.Hosts = 2
	j.PeerDelay = r.opts.windows.PeerDelay
	var mu sync.Mutex
	var shown []string
	r.o.multiResolve = "peer resolution not shown: the image has no getent (advice: log the peers you resolve)"
	j.WhileRunning = func(ctx context.Context, hosts []*platform.Container) {
		<-layersDone
		if !r.o.files.getent {
			return
		}
		names := []string{"algo-1", "algo-2"}
		for i, c := range hosts {
			peer := names[1-i%2]
			code, out, err := c.Exec(ctx, "getent", "hosts", peer)
			mu.Lock()
			if err == nil && code == 0 {
				shown = append(shown, fmt.Sprintf("%s resolves %s (%s)", names[i], peer, strings.Fields(string(out) + " ?")[0]))
			} else {
				shown = append(shown, fmt.Sprintf("%s: getent hosts %s did not answer (the host may have finished)", names[i], peer))
			}
			mu.Unlock()
		}
	}
	r.o.multi, r.o.multiErr = r.e.Train(ctx, j)
	if len(shown) > 0 {
		r.o.multiResolve = strings.Join(shown, "; ")
	}
}

// modelDir is the model the training run wrote ("" when it wrote none).
func (r *runner) modelDir() string {
	if len(r.o.modelFiles) == 0 {
		return ""
	}
	return r.o.train.Hosts[0].Paths.Model()
}

func (r *runner) playServe(ctx context.Context) {
	s := &serveObs{noModel: r.modelDir() == ""}
	r.o.serve = s
	spec := platform.EndpointSpec{Image: r.o.image.Ref, ModelDir: r.modelDir(), CPUShares: criticalShares}
	ep, err := r.e.Serve(ctx, spec)
	if err != nil {
		s.err = err
		return
	}
	defer func() { ep.Remove(ctx) }()
	s.health = ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
	if !s.health.Healthy && s.health.Exited {
		// Tell a program that writes under /opt/ml/model from one that fails
		// for other reasons: try once more with the model writable.
		s.roLogs, _ = ep.Logs(ctx)
		ep.Remove(ctx)
		spec.ModelWritable = true
		if spec.ModelDir != "" {
			// Keep the trained model pristine for the other plays.
			tmp, err := copyDir(spec.ModelDir, filepath.Join(r.dir, "model-rw"))
			if err != nil {
				s.err = err
				return
			}
			spec.ModelDir = tmp
		}
		ep, err = r.e.Serve(ctx, spec)
		if err != nil {
			s.err = err
			return
		}
		h := ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
		s.rw = &h
	}
	if s.effectiveHealth().Healthy {
		r.probe(ctx, ep, s)
	}
	if ok, _ := ep.Exited(); !ok {
		s.stop, s.stopErr = ep.Stop(ctx, r.opts.windows.HostingGrace)
	} else {
		_, code := ep.Exited()
		s.stop = platform.StopResult{AlreadyExited: true, ExitCode: code}
	}
	s.logs, _ = ep.Logs(context.WithoutCancel(ctx))
}

// probe sends the hosting requests to a healthy endpoint.
func (r *runner) probe(ctx context.Context, ep *platform.Endpoint, s *serveObs) {
	o := r.opts
	s.first = r.invoke(ctx, ep, "first invocation", o.payload, o.contentType, nil)
	if !s.first.ok(o) {
		s.firstRetryDelay = 3 * time.Second
		select {
		case <-time.After(s.firstRetryDelay):
		case <-ctx.Done():
			return
		}
	}
	s.sample = r.invoke(ctx, ep, "sample", o.payload, o.contentType, nil)
	s.notFound = r.get(ctx, ep, "/sagekit-conformance/no-such-path")
	s.models = r.get(ctx, ep, optml.RouteModels)
	if r.o.claims[ClaimBidiStreaming] {
		s.bidiErr = wsPing(ctx, ep.URL, "/invocations-bidirectional-stream", o.windows.InvocationTimeout)
	}
	if s.sample.err != nil {
		// No answer in time: the requests below would wait as long.
		return
	}
	// Sent whether or not the sample got the expected answer: a 413, a
	// different status with unknown headers, an answer without a
	// Content-Type or a 2xx for an unsupported type fails its rule on that
	// evidence alone (the rules' evidence functions), even when C-IN-07
	// failed.
	large := grow(o.payload, o.contentType, largeSize)
	s.large = r.invoke(ctx, ep, "6 MiB body", large, o.contentType, nil)
	s.large.size = len(large)
	s.headers = r.invoke(ctx, ep, "extra headers", o.payload, o.contentType, http.Header{
		optml.HeaderInferenceID:          {"sagekit-conformance-1"},
		optml.HeaderCustomAttributes:     {"trace=sagekit"},
		"X-Sagekit-Conformance-Probe":    {"1"},
		"X-Amzn-Sagemaker-Unknown-Probe": {"1"},
	})
	s.unsupported = r.invoke(ctx, ep, "unsupported content type", []byte("\x00\x01sagekit"), "application/x-sagekit-unsupported", nil)
}

func (r *runner) playBind(ctx context.Context) {
	b := &healthObs{}
	r.o.bind = b
	ep, err := r.e.Serve(ctx, platform.EndpointSpec{Image: r.o.image.Ref, ModelDir: r.modelDir(), BindToPort: bindPort, Role: "serve-bind"})
	if err != nil {
		b.err = err
		return
	}
	defer ep.Remove(ctx)
	b.health = ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
}

func (r *runner) playBatch(ctx context.Context) {
	b := &batchObs{}
	r.o.batch = b
	ep, err := r.e.Serve(ctx, platform.EndpointSpec{
		Image: r.o.image.Ref, ModelDir: r.modelDir(), Role: "serve-batch",
		Env: map[string]string{
			optml.EnvBatch:                   "true",
			optml.EnvMaxConcurrentTransforms: "4",
			optml.EnvBatchStrategy:           "MULTI_RECORD",
			optml.EnvMaxPayloadInMB:          "6",
		},
	})
	if err != nil {
		b.err = err
		return
	}
	defer ep.Remove(ctx)
	b.health = ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
	if !b.health.Healthy {
		return
	}
	b.execParams = r.get(ctx, ep, optml.RouteExecutionParameters)
	b.concurrent = make([]*invocation, 4)
	var wg sync.WaitGroup
	for i := range b.concurrent {
		wg.Go(func() {
			b.concurrent[i] = r.invoke(ctx, ep, "concurrent", r.opts.payload, r.opts.contentType, nil)
		})
	}
	wg.Wait()
	b.records = r.invoke(ctx, ep, "multi-record", r.opts.payload, r.opts.contentType, nil)
}

func (r *runner) playMultiModel(ctx context.Context) {
	m := &mmObs{}
	r.o.mm = m
	model := r.modelDir()
	if model == "" {
		d := filepath.Join(r.dir, "mm-empty")
		if err := os.MkdirAll(d, 0o755); err != nil {
			m.err = err
			return
		}
		model = d
	}
	ep, err := r.e.Serve(ctx, platform.EndpointSpec{
		Image: r.o.image.Ref, Role: "serve-multi-model",
		Models: map[string]string{mmModel: model},
		Env:    map[string]string{optml.EnvMultiModel: "true"},
	})
	if err != nil {
		m.err = err
		return
	}
	defer ep.Remove(ctx)
	m.health = ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
	if !m.health.Healthy {
		return
	}
	load := []byte(fmt.Sprintf(`{"model_name":%q,"url":%q}`, mmModel, "/opt/ml/models/"+mmModel+"/model"))
	m.load = r.do(ctx, ep, "load", http.MethodPost, optml.RouteModels, load, "application/json", nil)
	m.reload = r.do(ctx, ep, "reload", http.MethodPost, optml.RouteModels, load, "application/json", nil)
	m.list = r.get(ctx, ep, optml.RouteModels)
	m.get = r.get(ctx, ep, optml.RouteModels+"/"+mmModel)
	m.getUnknown = r.get(ctx, ep, optml.RouteModels+"/sagekit-no-such-model")
	m.invoke = r.do(ctx, ep, "invoke", http.MethodPost, optml.RouteModels+"/"+mmModel+"/invoke", r.opts.payload, r.opts.contentType,
		http.Header{optml.HeaderTargetModel: {"model-a.tar.gz"}})
	m.invokeUnknown = r.do(ctx, ep, "invoke unknown", http.MethodPost, optml.RouteModels+"/sagekit-no-such-model/invoke", r.opts.payload, r.opts.contentType, nil)
	m.del = r.do(ctx, ep, "delete", http.MethodDelete, optml.RouteModels+"/"+mmModel, nil, "", nil)
	m.getAfterDel = r.get(ctx, ep, optml.RouteModels+"/"+mmModel)
	m.delAgain = r.do(ctx, ep, "delete again", http.MethodDelete, optml.RouteModels+"/"+mmModel, nil, "", nil)
}

func (r *runner) playGPU(ctx context.Context) {
	g := &r.o.gpu
	j := r.job("gpu")
	j.GPU = true
	tr, err := r.e.Train(ctx, j)
	if errors.Is(err, platform.ErrNoGPURuntime) {
		g.noRuntime = true
		return
	}
	if err != nil {
		g.err = err
		return
	}
	h := tr.Hosts[0]
	g.trainExit, g.trainReason = h.ExitCode, firstLine(h.Failure)
	g.trained = h.StartErr == nil && h.ExitCode == 0
	if !g.trained {
		return
	}
	ep, err := r.e.Serve(ctx, platform.EndpointSpec{Image: r.o.image.Ref, ModelDir: h.Paths.Model(), GPU: true, Role: "serve-gpu"})
	if err != nil {
		g.err = err
		return
	}
	defer ep.Remove(ctx)
	g.health = ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
}

func (r *runner) invoke(ctx context.Context, ep *platform.Endpoint, name string, body []byte, ct string, extra http.Header) *invocation {
	h := http.Header{}
	if r.opts.accept != "" {
		h.Set("Accept", r.opts.accept)
	}
	for k, v := range extra {
		h[k] = v
	}
	return r.do(ctx, ep, name, http.MethodPost, optml.RouteInvocations, body, ct, h)
}

func (r *runner) get(ctx context.Context, ep *platform.Endpoint, p string) *invocation {
	return r.do(ctx, ep, "GET "+p, http.MethodGet, p, nil, "", nil)
}

func (r *runner) do(ctx context.Context, ep *platform.Endpoint, name, method, p string, body []byte, ct string, h http.Header) *invocation {
	iv := &invocation{name: name, size: len(body)}
	ctx, cancel := context.WithTimeout(ctx, r.opts.windows.InvocationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ep.URL+p, bytes.NewReader(body))
	if err != nil {
		iv.err = err
		return iv
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	iv.elapsed = time.Since(start)
	if err != nil {
		iv.err = err
		return iv
	}
	defer resp.Body.Close()
	iv.status, iv.contentType = resp.StatusCode, resp.Header.Get("Content-Type")
	iv.body, iv.err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	iv.elapsed = time.Since(start)
	return iv
}
