package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// toolkitInferenceRules are the rules of contract section 12.6, the inference
// toolkit's behaviour, for images that claim it.
var toolkitInferenceRules = ruleSection{
	title: "Inference toolkit compatibility (T-IN)",
	rules: []Rule{
		{
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
		},
		{
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
		},
		{
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
		},
		{
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
		},
		{
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
		},
		{
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
				if len(problems) > 0 {
					// The summary below needs a worker and an answer.
					return problems, ""
				}
				return problems, fmt.Sprintf("one worker process (pid %d) answered every request; the %s request got %d after %s", s.pids[0], tinTransformSleep, iv.status, iv.elapsed.Round(time.Millisecond))
			}),
		},
		{
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
		},
		{
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
		},
	},
}
