package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// playToolkitInference hosts a framework-container model, as SageMaker
// does for an image that runs sagemaker-inference-toolkit: the model's
// code in /opt/ml/model/code, chosen by SAGEMAKER_PROGRAM.
const playToolkitInference play = "toolkit-inference"

const (
	tinCodeDir        = "/opt/ml/model/code"
	tinEchoName       = "sagekit_tin_echo"
	tinTransformName  = "sagekit_tin_transform"
	tinBothName       = "sagekit_tin_both"
	tinDefaultName    = "inference"
	tinDefaultAccept  = "text/csv"
	tinServerTimeout  = 5 * time.Second
	tinTransformSleep = 9 * time.Second
)

// tinMatrix is the table the probes send and expect back; tinSparse is the
// sparse one sent as .npz.
var (
	tinMatrix = [][]float64{{1.5, 2.5}, {3.5, 4.5}}
	tinSparse = [][]float64{{1.5, 0}, {0, 4.5}}
)

// tinScenario is one serving container of the probe model.
type tinScenario struct {
	// what says how the container chose its module, for messages.
	what   string
	err    error
	health platform.Health
	logs   []byte
	probes map[string]*invocation
	// pids are the worker process ids that answered the concurrent probe.
	pids []int
}

type tinObs struct {
	err error // laying out the model
	// echo: SAGEMAKER_PROGRAM names a module with model_fn and predict_fn.
	echo *tinScenario
	// module: no SAGEMAKER_PROGRAM, so inference.py, with input_fn;
	// SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv and one worker.
	module *tinScenario
	// transform: a module with transform_fn; a 5 s server timeout.
	transform *tinScenario
	// both: a module with transform_fn and predict_fn, which the toolkit
	// refuses; not serving it is the expected outcome.
	both *tinScenario
}

type tinProbe struct {
	key, body, contentType, accept string // accept "" sends no Accept
}

func (r *runner) playToolkitInference(ctx context.Context) {
	t := &tinObs{}
	r.o.tin = t
	// Only the echo container's model has requirements.txt (T-IN-07 reads
	// that container alone): the others start without running pip.
	model := filepath.Join(r.dir, "toolkit-inference-model")
	if t.err = writeTinModel(model, true); t.err != nil {
		return
	}
	lean := filepath.Join(r.dir, "toolkit-inference-model-lean")
	if t.err = writeTinModel(lean, false); t.err != nil {
		return
	}
	npy := string(npyMatrix(tinMatrix))
	npz, err := npzCSR(tinSparse)
	if err != nil {
		t.err = err
		return
	}
	const encode = `{"encode": [[1.5, 2.5], [3.5, 4.5]]}`
	t.echo = &tinScenario{what: optml.EnvProgram + "=" + tinEchoName + ".py"}
	t.module = &tinScenario{what: optml.EnvProgram + " unset (so inference.py), " + optml.EnvDefaultInvocationAccept + "=" + tinDefaultAccept + ", " + optml.EnvModelServerWorkers + "=1"}
	t.both = &tinScenario{what: optml.EnvProgram + "=" + tinBothName + ".py"}
	t.transform = &tinScenario{what: optml.EnvProgram + "=" + tinTransformName + ".py, " + optml.EnvModelServerTimeout + "=" + strconv.Itoa(int(tinServerTimeout/time.Second))}
	var wg sync.WaitGroup
	wg.Go(func() {
		r.tinServe(ctx, t.echo, model, "serve-toolkit-echo", map[string]string{
			optml.EnvProgram: tinEchoName + ".py", optml.EnvSubmitDirectory: tinCodeDir,
		}, []tinProbe{
			{"facts", `{"facts": 1}`, "application/json", "application/json"},
			{"decode-json", `[[1.5, 2.5], [3.5, 4.5]]`, "application/json", "application/json"},
			{"decode-csv", "1.5,2.5\n3.5,4.5\n", "text/csv", "application/json"},
			{"decode-npy", npy, "application/x-npy", "application/json"},
			{"decode-npz", string(npz), "application/x-npz", "application/json"},
			{"encode-json", encode, "application/json", "application/json"},
			{"encode-csv", encode, "application/json", "text/csv"},
			{"encode-npy", encode, "application/json", "application/x-npy"},
			{"encode-list-unknown", encode, "application/json", "application/x-sagekit-unknown, text/csv"},
			{"encode-list-order", encode, "application/json", "application/json, text/csv"},
			{"accept-none", encode, "application/json", ""},
			{"accept-any", encode, "application/json", "*/*"},
		}, nil)
	})
	wg.Go(func() {
		r.tinServe(ctx, t.module, lean, "serve-toolkit-default", map[string]string{
			optml.EnvDefaultInvocationAccept: tinDefaultAccept, optml.EnvModelServerWorkers: "1",
		}, []tinProbe{
			{"type-json", `{"probe": "type"}`, "application/json", "application/json"},
			{"type-csv", "probe,type\n", "text/csv", "application/json"},
			{"type-octet", "\x00sagekit\xff", "application/octet-stream", "application/json"},
			{"type-npy", npy, "application/x-npy", "application/json"},
			{"raise", "sagekit-raise\n", "text/csv", "application/json"},
			{"accept-none", "sagekit-table\n", "text/csv", ""},
			{"accept-any", "sagekit-table\n", "text/csv", "*/*"},
		}, r.tinWorkers)
	})
	wg.Go(func() {
		r.tinServe(ctx, t.transform, lean, "serve-toolkit-transform", map[string]string{
			optml.EnvProgram: tinTransformName + ".py", optml.EnvModelServerTimeout: strconv.Itoa(int(tinServerTimeout / time.Second)),
		}, []tinProbe{
			{"transform", `{"probe": "transform"}`, "application/json", "application/json"},
			// Last: the timed-out worker may be restarted.
			{"timeout", "sagekit-sleep\n", "text/csv", "application/json"},
		}, nil)
	})
	wg.Go(func() {
		r.tinServe(ctx, t.both, lean, "serve-toolkit-both", map[string]string{optml.EnvProgram: tinBothName + ".py"},
			[]tinProbe{{"both", `{"probe": "both"}`, "application/json", "application/json"}}, nil)
	})
	wg.Wait()
}

// writeTinModel lays out the probe model: code/ with the four modules and,
// with requirements, requirements.txt and the wheel house it names.
func writeTinModel(dir string, requirements bool) error {
	files := map[string][]byte{
		"code/" + tinEchoName + ".py":      []byte(tinEchoModule),
		"code/" + tinDefaultName + ".py":   []byte(tinDefaultModule),
		"code/" + tinTransformName + ".py": []byte(tinTransformModule),
		"code/" + tinBothName + ".py":      []byte(tinBothModule),
	}
	if requirements {
		name, whl, err := tkWheel(tinDepName, tinDepVersion, tinDepModule, []byte(fmt.Sprintf("VALUE = %q\n", tinDepValue)))
		if err != nil {
			return fmt.Errorf("building the probe's wheel: %w", err)
		}
		files["code/requirements.txt"] = []byte(tinRequirements)
		files["code/wheels/"+name] = whl
	}
	for p, b := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("laying out the probe model: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("laying out the probe model: %w", err)
		}
	}
	return nil
}

// tinServe starts one container of the probe model, sends probes in order
// once it is healthy, runs more (when not nil), and keeps its logs.
func (r *runner) tinServe(ctx context.Context, s *tinScenario, model, role string, env map[string]string, probes []tinProbe, more func(context.Context, *platform.Endpoint, *tinScenario)) {
	s.probes = map[string]*invocation{}
	ep, err := r.e.Serve(ctx, platform.EndpointSpec{Image: r.o.image.Ref, ModelDir: model, Env: env, Role: role})
	if err != nil {
		s.err = err
		return
	}
	defer ep.Remove(context.WithoutCancel(ctx))
	s.health = ep.WaitHealthy(ctx, r.opts.windows.StartupTimeout, r.opts.windows.PingTimeout)
	if s.health.Healthy {
		for _, p := range probes {
			h := http.Header{}
			if p.accept != "" {
				h.Set("Accept", p.accept)
			}
			rr := r
			if p.key == "timeout" {
				// Wait past the server's timeout for its answer, whatever
				// the suite's own limit.
				o := *r.opts
				o.windows.InvocationTimeout = max(o.windows.InvocationTimeout, tinTransformSleep+5*time.Second)
				rr = &runner{e: r.e, opts: &o, o: r.o, dir: r.dir}
			}
			s.probes[p.key] = rr.do(ctx, ep, p.key, http.MethodPost, optml.RouteInvocations, []byte(p.body), p.contentType, h)
		}
		if more != nil {
			more(ctx, ep, s)
		}
	}
	s.logs, _ = ep.Logs(context.WithoutCancel(ctx))
}

// tinWorkers sends rounds of three concurrent requests that each hold a
// worker for 0.3 s and collects the process ids that answered: for at
// least 2 s, so that workers beyond the first have had time to start, and
// until a second process shows.
func (r *runner) tinWorkers(ctx context.Context, ep *platform.Endpoint, s *tinScenario) {
	seen := map[int]bool{}
	start := time.Now()
	for round := 0; time.Since(start) < 2*time.Second && len(seen) < 2 && ctx.Err() == nil; round++ {
		ivs := make([]*invocation, 3)
		var wg sync.WaitGroup
		for i := range ivs {
			wg.Go(func() {
				ivs[i] = r.do(ctx, ep, "workers", http.MethodPost, optml.RouteInvocations, []byte("sagekit-sleep\n"), "text/csv", http.Header{"Accept": {"application/json"}})
			})
		}
		wg.Wait()
		for i, iv := range ivs {
			var v struct {
				PID int `json:"pid"`
			}
			if iv.err != nil || iv.status != http.StatusOK || json.Unmarshal(iv.body, &v) != nil || v.PID == 0 {
				s.probes[fmt.Sprintf("workers-%d-%d", round, i)] = iv
				continue
			}
			if !seen[v.PID] {
				seen[v.PID] = true
				s.pids = append(s.pids, v.PID)
			}
		}
	}
}

// ready says why s cannot be judged ("" when its container served).
func (t *tinObs) ready(s *tinScenario, o *options) string {
	switch {
	case t == nil:
		return "the toolkit play did not run"
	case t.err != nil:
		return t.err.Error()
	case s.err != nil:
		return fmt.Sprintf("the container with %s could not start: %v", s.what, s.err)
	case s.health.Exited:
		return fmt.Sprintf("the container with %s exited %d before answering /ping 200%s%s", s.what, s.health.ExitCode, pythonError(s.logs), logTail(s.logs))
	case !s.health.Healthy:
		return fmt.Sprintf("the container with %s did not answer /ping 200 within %s%s%s", s.what, o.windows.StartupTimeout, pythonError(s.logs), logTail(s.logs))
	}
	return ""
}

var pythonErrorLine = regexp.MustCompile(`^[A-Za-z_][\w.]*(Error|Exception|Exit)(: .*)?$`)

// pythonError is the last Python exception line of logs, for a message,
// or "": the runtime's own last lines rarely say what went wrong in the
// user code.
func pythonError(logs []byte) string {
	lines := strings.Split(string(logs), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); pythonErrorLine.MatchString(l) {
			return "; Python: " + string(truncate([]byte(l), 300))
		}
	}
	return ""
}

// tinCheck judges rule checks against scenarios: each returns the problems
// it found; the first scenario that did not serve fails the rule.
func tinCheck(scenarios func(*tinObs) []*tinScenario, f func(o *observations) (problems []string, summary string)) func(*observations) outcome {
	return func(o *observations) outcome {
		if o.tin == nil {
			return fail("the toolkit play did not run")
		}
		for _, s := range scenarios(o.tin) {
			if why := o.tin.ready(s, o.opts); why != "" {
				return fail("%s", why)
			}
		}
		problems, summary := f(o)
		if len(problems) > 0 {
			return fail("%s", strings.Join(problems, "; "))
		}
		return pass("%s", summary)
	}
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	return mt
}

// matrixProblem says how a response differs from want encoded as wantType
// ("" when it does not).
func matrixProblem(iv *invocation, wantType string, want [][]float64) string {
	if iv == nil || iv.err != nil || iv.status != http.StatusOK {
		return "want 200, got " + iv.describe()
	}
	if mt := mediaType(iv.contentType); mt != wantType {
		return fmt.Sprintf("want Content-Type %s, got %q (body %q)", wantType, iv.contentType, truncate(iv.body, 80))
	}
	got, err := decodeMatrix(wantType, iv.body)
	if err != nil {
		return fmt.Sprintf("the %s body is unreadable: %v", wantType, err)
	}
	if !sameMatrix(got, want) {
		return fmt.Sprintf("want %v, got %v", want, got)
	}
	return ""
}

// jsonBody decodes a 200 JSON answer, or says why it is not one.
func jsonBody(iv *invocation) (map[string]any, string) {
	if iv == nil || iv.err != nil || iv.status != http.StatusOK {
		return nil, "want 200, got " + iv.describe()
	}
	var v map[string]any
	if err := json.Unmarshal(iv.body, &v); err != nil {
		return nil, fmt.Sprintf("the body is not a JSON object: %q", truncate(iv.body, 120))
	}
	return v, ""
}

func tinAll(t *tinObs) []*tinScenario { return []*tinScenario{t.echo, t.module, t.transform} }

const tinHint = "Behave as sagemaker-inference-toolkit does (docs/contract.md section 2.13), or serve with sagekit-runtime, which does (docs/serving.md, \"Inference toolkit mode\")."

const tinHow = "Serves a model laid out as SageMaker's framework containers receive it (/opt/ml/model/code with probe modules, and requirements.txt with a wheel house for the container that serves sagekit_tin_echo.py) in four containers at once: "
