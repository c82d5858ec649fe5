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
	"slices"
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
	model := filepath.Join(r.dir, "toolkit-inference-model")
	if t.err = writeTinModel(model); t.err != nil {
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
		r.tinServe(ctx, t.module, model, "serve-toolkit-default", map[string]string{
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
		r.tinServe(ctx, t.transform, model, "serve-toolkit-transform", map[string]string{
			optml.EnvProgram: tinTransformName + ".py", optml.EnvModelServerTimeout: strconv.Itoa(int(tinServerTimeout / time.Second)),
		}, []tinProbe{
			{"transform", `{"probe": "transform"}`, "application/json", "application/json"},
			// Last: the timed-out worker may be restarted.
			{"timeout", "sagekit-sleep\n", "text/csv", "application/json"},
		}, nil)
	})
	wg.Go(func() {
		r.tinServe(ctx, t.both, model, "serve-toolkit-both", map[string]string{optml.EnvProgram: tinBothName + ".py"},
			[]tinProbe{{"both", `{"probe": "both"}`, "application/json", "application/json"}}, nil)
	})
	wg.Wait()
}

// writeTinModel lays out the probe model: code/ with the four modules,
// requirements.txt and the wheel house it names.
func writeTinModel(dir string) error {
	name, whl, err := tkWheel(tinDepName, tinDepVersion, tinDepModule, []byte(fmt.Sprintf("VALUE = %q\n", tinDepValue)))
	if err != nil {
		return fmt.Errorf("building the probe's wheel: %w", err)
	}
	files := map[string][]byte{
		"code/" + tinEchoName + ".py":      []byte(tinEchoModule),
		"code/" + tinDefaultName + ".py":   []byte(tinDefaultModule),
		"code/" + tinTransformName + ".py": []byte(tinTransformModule),
		"code/" + tinBothName + ".py":      []byte(tinBothModule),
		"code/requirements.txt":            []byte(tinRequirements),
		"code/wheels/" + name:              whl,
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

const tinHow = "Serves a model laid out as SageMaker's framework containers receive it (/opt/ml/model/code with probe modules, requirements.txt and a wheel house) in four containers at once: "

var (
	ruleTIN01 = Rule{
		ID: "T-IN-01", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "Missing Accept or */* → SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else application/json",
		Hint:        "When Accept is missing or */*, answer in the type SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT names, and in application/json when it is unset. " + tinHint,
		How:         tinHow + "a 2×2 float array from predict_fn goes through the default output_fn with no Accept and with */*; it must come back as application/json with SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT unset, and as text/csv with it set to text/csv.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.echo, t.module} }, func(o *observations) ([]string, string) {
			var problems []string
			for _, c := range []struct {
				s         *tinScenario
				key, want string
				when      string
			}{
				{o.tin.echo, "accept-none", "application/json", "no Accept, " + optml.EnvDefaultInvocationAccept + " unset"},
				{o.tin.echo, "accept-any", "application/json", "Accept */*, " + optml.EnvDefaultInvocationAccept + " unset"},
				{o.tin.module, "accept-none", tinDefaultAccept, "no Accept, " + optml.EnvDefaultInvocationAccept + "=" + tinDefaultAccept},
				{o.tin.module, "accept-any", tinDefaultAccept, "Accept */*, " + optml.EnvDefaultInvocationAccept + "=" + tinDefaultAccept},
			} {
				if p := matrixProblem(c.s.probes[c.key], c.want, tinMatrix); p != "" {
					problems = append(problems, c.when+": "+p)
				}
			}
			return problems, "application/json with SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT unset, text/csv with it set to text/csv, for no Accept and for */*"
		}),
	}
	ruleTIN02 = Rule{
		ID: "T-IN-02", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "JSON and CSV request bodies are decoded as UTF-8 text; other content types stay bytes",
		Hint:        "Pass input_fn a str for application/json and text/csv bodies (decoded as UTF-8) and the raw bytes for every other type. " + tinHint,
		How:         tinHow + "inference.py's input_fn reports the type of input_data: str for application/json and text/csv, bytes (or bytearray) for application/octet-stream and application/x-npy.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.module} }, func(o *observations) ([]string, string) {
			var problems, types []string
			for _, c := range []struct {
				key, ct string
				want    []string
			}{
				{"type-json", "application/json", []string{"str"}},
				{"type-csv", "text/csv", []string{"str"}},
				{"type-octet", "application/octet-stream", []string{"bytes", "bytearray"}},
				{"type-npy", "application/x-npy", []string{"bytes", "bytearray"}},
			} {
				v, p := jsonBody(o.tin.module.probes[c.key])
				if p != "" {
					problems = append(problems, c.ct+": "+p)
					continue
				}
				got, _ := v["type"].(string)
				types = append(types, got+" for "+c.ct)
				if !slices.Contains(c.want, got) {
					problems = append(problems, fmt.Sprintf("input_fn got %s for %s, want %s", got, c.ct, strings.Join(c.want, " or ")))
				}
			}
			return problems, "input_fn got " + strings.Join(types, ", ")
		}),
	}
	ruleTIN03 = Rule{
		ID: "T-IN-03", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "Default decoders cover application/json, text/csv, application/x-npy, application/x-npz",
		Hint:        "With no input_fn, decode application/json (json.loads), text/csv (numpy.genfromtxt), application/x-npy (numpy.load) and application/x-npz (scipy.sparse.load_npz) into arrays. " + tinHint,
		How:         tinHow + "a module with only model_fn and predict_fn echoes the type and value predict_fn got for the same 2×2 table sent as JSON, CSV and .npy, and a sparse one as .npz (all written by the suite); each must arrive as an array with the values sent.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.echo} }, func(o *observations) ([]string, string) {
			var problems, types []string
			for _, c := range []struct {
				key, ct string
				want    [][]float64
			}{
				{"decode-json", "application/json", tinMatrix},
				{"decode-csv", "text/csv", tinMatrix},
				{"decode-npy", "application/x-npy", tinMatrix},
				{"decode-npz", "application/x-npz", tinSparse},
			} {
				v, p := jsonBody(o.tin.echo.probes[c.key])
				if p != "" {
					problems = append(problems, c.ct+": predict_fn was not reached or failed: "+p)
					continue
				}
				typ, _ := v["type"].(string)
				types = append(types, typ+" for "+c.ct)
				raw, _ := json.Marshal(v["value"])
				var got [][]float64
				if json.Unmarshal(raw, &got) != nil || !sameMatrix(got, c.want) {
					problems = append(problems, fmt.Sprintf("%s: predict_fn got %s %s, want an array %v", c.ct, typ, truncate(raw, 80), c.want))
				}
			}
			return problems, "predict_fn got " + strings.Join(types, ", ")
		}),
	}
	ruleTIN04 = Rule{
		ID: "T-IN-04", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "Default encoders cover application/json, text/csv, application/x-npy; Accept is comma-split with no q-values",
		Hint:        "With no output_fn, encode to application/json, text/csv and application/x-npy, and for a list in Accept use its first supported type. " + tinHint,
		How:         tinHow + "predict_fn returns a 2×2 float array; the default output_fn must answer Accept application/json, text/csv and application/x-npy in that type with those values, `application/x-sagekit-unknown, text/csv` with text/csv and `application/json, text/csv` with application/json.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.echo} }, func(o *observations) ([]string, string) {
			var problems []string
			for _, c := range []struct{ key, accept, want string }{
				{"encode-json", "application/json", "application/json"},
				{"encode-csv", "text/csv", "text/csv"},
				{"encode-npy", "application/x-npy", "application/x-npy"},
				{"encode-list-unknown", "application/x-sagekit-unknown, text/csv", "text/csv"},
				{"encode-list-order", "application/json, text/csv", "application/json"},
			} {
				if p := matrixProblem(o.tin.echo.probes[c.key], c.want, tinMatrix); p != "" {
					problems = append(problems, fmt.Sprintf("Accept %q: %s", c.accept, p))
				}
			}
			return problems, "application/json, text/csv, application/x-npy and comma-separated Accept lists encoded as expected"
		}),
	}
	ruleTIN05 = Rule{
		ID: "T-IN-05", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "Any exception that is not a BaseInferenceToolkitError → HTTP 500 with message + traceback",
		Hint:        "Answer an exception from user code that has no status_code with 500 and a body of its message, a newline and the traceback. " + tinHint,
		How:         tinHow + "inference.py's predict_fn raises ValueError; the answer must be 500 with the message and a Python traceback in the body.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.module} }, func(o *observations) ([]string, string) {
			iv := o.tin.module.probes["raise"]
			switch {
			case iv == nil || iv.err != nil:
				return []string{"predict_fn raised ValueError: want 500, got " + iv.describe()}, ""
			case iv.status != http.StatusInternalServerError:
				return []string{fmt.Sprintf("predict_fn raised ValueError: want 500, got %s", iv.describe())}, ""
			case !strings.Contains(string(iv.body), "sagekit-probe-failure"):
				return []string{fmt.Sprintf("the 500 body lacks the exception's message: %q", truncate(iv.body, 160))}, ""
			case !strings.Contains(string(iv.body), "Traceback"):
				return []string{fmt.Sprintf("the 500 body lacks the traceback: %q", truncate(iv.body, 160))}, ""
			}
			return nil, "500 with the message and a traceback"
		}),
	}
	ruleTIN06 = Rule{
		ID: "T-IN-06", Level: Should, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "SAGEMAKER_MODEL_SERVER_TIMEOUT default 60; SAGEMAKER_STARTUP_TIMEOUT default 600; workers from SAGEMAKER_MODEL_SERVER_WORKERS",
		Hint:        "Start SAGEMAKER_MODEL_SERVER_WORKERS worker processes and end a request that runs past SAGEMAKER_MODEL_SERVER_TIMEOUT seconds with an error status. " + tinHint,
		How:         tinHow + "with SAGEMAKER_MODEL_SERVER_WORKERS=1, rounds of three concurrent requests over at least 2 s must all be answered by one process; with SAGEMAKER_MODEL_SERVER_TIMEOUT=5, a transform_fn that sleeps 9 s must get an error status within about 5 s (a longer limit than needed, so that a slow first request on a busy machine is not cut). The defaults (60 s, 600 s) would take minutes to observe and are not checked.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.module, t.transform} }, func(o *observations) ([]string, string) {
			var problems []string
			s := o.tin.module
			for k, iv := range s.probes {
				if strings.HasPrefix(k, "workers-") {
					problems = append(problems, "a request of the worker probe got "+iv.describe())
					break
				}
			}
			switch {
			case len(s.pids) == 0 && len(problems) == 0:
				problems = append(problems, "no worker answered the worker probe")
			case len(s.pids) > 1:
				problems = append(problems, fmt.Sprintf("%s=1: want 1 worker process, got %d (pids %v)", optml.EnvModelServerWorkers, len(s.pids), s.pids))
			}
			iv := o.tin.transform.probes["timeout"]
			switch {
			case iv == nil || iv.err != nil:
				problems = append(problems, fmt.Sprintf("%s=%d: a request that takes %s got %s", optml.EnvModelServerTimeout, tinServerTimeout/time.Second, tinTransformSleep, iv.describe()))
			case is2xx(iv.status) || iv.elapsed >= tinTransformSleep-500*time.Millisecond:
				problems = append(problems, fmt.Sprintf("%s=%d: a request that takes %s got %d after %s, want an error status after about %s", optml.EnvModelServerTimeout, tinServerTimeout/time.Second, tinTransformSleep, iv.status, iv.elapsed.Round(time.Millisecond), tinServerTimeout))
			}
			return problems, fmt.Sprintf("one worker process (pid %d) answered every request; the %s request got %d after %s", s.pids[0], tinTransformSleep, iv.status, iv.elapsed.Round(time.Millisecond))
		}),
	}
	ruleTIN07 = Rule{
		ID: "T-IN-07", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "/opt/ml/model/code is on PYTHONPATH; /opt/ml/model/code/requirements.txt is installed at start-up",
		Hint:        "Before the workers start, run `python -m pip install -r /opt/ml/model/code/requirements.txt` when it exists, and put /opt/ml/model/code first on PYTHONPATH. " + tinHint,
		How:         tinHow + "requirements.txt names a package only the code directory's wheel house has (--no-index --find-links /opt/ml/model/code/wheels); model_fn must be able to import it, and must see /opt/ml/model/code in PYTHONPATH.",
		check: tinCheck(func(t *tinObs) []*tinScenario { return []*tinScenario{t.echo} }, func(o *observations) ([]string, string) {
			v, p := jsonBody(o.tin.echo.probes["facts"])
			if p != "" {
				return []string{"asking model_fn's findings: " + p}, ""
			}
			var problems []string
			if dep, _ := v["dep"].(string); dep != tinDepValue {
				problems = append(problems, fmt.Sprintf("model_fn could not import %s, which requirements.txt names: %v", tinDepModule, v["dep_error"]))
			}
			pp, _ := v["pythonpath"].(string)
			if !slices.Contains(filepath.SplitList(pp), tinCodeDir) {
				problems = append(problems, fmt.Sprintf("want %s on PYTHONPATH, got PYTHONPATH=%q", tinCodeDir, pp))
			}
			return problems, fmt.Sprintf("model_fn imported %s; PYTHONPATH=%s", tinDepModule, pp)
		}),
	}
	ruleTIN08 = Rule{
		ID: "T-IN-08", Level: Must, Claim: ClaimToolkitInference, plays: []play{playToolkitInference},
		Description: "User module = SAGEMAKER_PROGRAM (default inference.py) providing model_fn / input_fn / predict_fn / output_fn or transform_fn",
		Hint:        "Import the module SAGEMAKER_PROGRAM names (without .py; inference when unset) from /opt/ml/model/code, ahead of any module of the image with the same name, and call its transform_fn when it has one. " + tinHint,
		How:         tinHow + "SAGEMAKER_PROGRAM=sagekit_tin_echo.py must serve that module; with SAGEMAKER_PROGRAM unset, the model's inference.py; a module with only model_fn and transform_fn must answer through transform_fn; a module with transform_fn and predict_fn must not be served (the toolkit raises ValueError: the container may exit or answer with an error).",
		check: tinCheck(tinAll, func(o *observations) ([]string, string) {
			var problems []string
			if v, p := jsonBody(o.tin.echo.probes["facts"]); p != "" {
				problems = append(problems, fmt.Sprintf("%s=%s.py: %s", optml.EnvProgram, tinEchoName, p))
			} else if m, _ := v["module"].(string); m != tinEchoName {
				problems = append(problems, fmt.Sprintf("%s=%s.py: want module %s, got %q", optml.EnvProgram, tinEchoName, tinEchoName, m))
			}
			if v, p := jsonBody(o.tin.module.probes["type-json"]); p != "" {
				problems = append(problems, fmt.Sprintf("%s unset: %s", optml.EnvProgram, p))
			} else if m, _ := v["module"].(string); m != tinDefaultName {
				problems = append(problems, fmt.Sprintf("%s unset: want the model's %s.py, got module %q", optml.EnvProgram, tinDefaultName, m))
			}
			if v, p := jsonBody(o.tin.transform.probes["transform"]); p != "" {
				problems = append(problems, "transform_fn: "+p)
			} else if v["transform"] != true || v["module"] != tinTransformName {
				problems = append(problems, fmt.Sprintf("transform_fn: want its answer from %s, got %q", tinTransformName, truncate(o.tin.transform.probes["transform"].body, 120)))
			}
			both := "refused"
			switch b := o.tin.both; {
			case b.err != nil:
				problems = append(problems, fmt.Sprintf("the container with %s could not start: %v", b.what, b.err))
			case b.health.Healthy:
				if iv := b.probes["both"]; iv != nil && iv.err == nil && is2xx(iv.status) {
					problems = append(problems, fmt.Sprintf("a module with both transform_fn and predict_fn was served (%s), want it refused as the toolkit does (ValueError)", iv.describe()))
				} else {
					both = "answered " + iv.describe()
				}
			case b.health.Exited:
				both = fmt.Sprintf("refused: the container exited %d%s", b.health.ExitCode, pythonError(b.logs))
			}
			return problems, "SAGEMAKER_PROGRAM chose " + tinEchoName + ", the default chose the model's inference.py, transform_fn answered, a module with transform_fn and predict_fn was " + both
		}),
	}
)
