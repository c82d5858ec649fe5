package conformance

import (
	"errors"
	"net/http"
	"time"

	"github.com/sagekit/sagekit/platform"
)

const (
	tinJSONMatrix = "[[1.5, 2.5], [3.5, 4.5]]"
	tinCSVMatrix  = "1.5,2.5\n3.5,4.5\n"
)

func tinJSON(body string) *invocation { return ok("probe", "application/json", body) }

// goodToolkitInference is what the toolkit inference play records of an
// image that behaves as sagemaker-inference-toolkit does.
func goodToolkitInference() *tinObs {
	echoed := tinJSON(`{"type": "numpy.ndarray", "value": ` + tinJSONMatrix + `}`)
	return &tinObs{
		echo: &tinScenario{what: "SAGEMAKER_PROGRAM=sagekit_tin_echo.py", health: healthy, probes: map[string]*invocation{
			"facts":               tinJSON(`{"module": "sagekit_tin_echo", "dep": "` + tinDepValue + `", "pythonpath": "/opt/ml/model/code:/opt/program"}`),
			"decode-json":         echoed,
			"decode-csv":          echoed,
			"decode-npy":          echoed,
			"decode-npz":          tinJSON(`{"type": "scipy.sparse._csr.csr_matrix", "value": [[1.5, 0], [0, 4.5]]}`),
			"encode-json":         tinJSON(tinJSONMatrix),
			"encode-csv":          ok("probe", "text/csv", tinCSVMatrix),
			"encode-npy":          ok("probe", "application/x-npy", string(npyMatrix(tinMatrix))),
			"encode-list-unknown": ok("probe", "text/csv", tinCSVMatrix),
			"encode-list-order":   tinJSON(tinJSONMatrix),
			"accept-none":         tinJSON(tinJSONMatrix),
			"accept-any":          tinJSON(tinJSONMatrix),
		}},
		module: &tinScenario{what: "SAGEMAKER_PROGRAM unset", health: healthy, pids: []int{41}, probes: map[string]*invocation{
			"type-json":   tinJSON(`{"type": "str", "module": "inference"}`),
			"type-csv":    tinJSON(`{"type": "str", "module": "inference"}`),
			"type-octet":  tinJSON(`{"type": "bytes", "module": "inference"}`),
			"type-npy":    tinJSON(`{"type": "bytearray", "module": "inference"}`),
			"raise":       answer("raise", http.StatusInternalServerError, "sagekit-probe-failure: predict_fn raised on purpose\nTraceback (most recent call last):\n  File \"inference.py\"\nValueError"),
			"accept-none": ok("probe", "text/csv", tinCSVMatrix),
			"accept-any":  ok("probe", "text/csv", tinCSVMatrix),
		}},
		transform: &tinScenario{what: "SAGEMAKER_PROGRAM=sagekit_tin_transform.py", health: healthy, probes: map[string]*invocation{
			"transform": tinJSON(`{"transform": true, "module": "sagekit_tin_transform"}`),
			"timeout":   {name: "timeout", status: http.StatusGatewayTimeout, contentType: "text/plain", elapsed: 5200 * time.Millisecond},
		}},
		both: &tinScenario{what: "SAGEMAKER_PROGRAM=sagekit_tin_both.py", health: platform.Health{Exited: true, ExitCode: 1}, logs: []byte("ValueError: transform_fn and predict_fn\n")},
	}
}

var toolkitInferenceCases = map[string][]ruleCase{
	"T-IN-01": {
		{name: "defaults", want: StatusPass},
		{name: "no default accept", edit: func(o *observations) { o.tin.module.probes["accept-none"] = tinJSON(tinJSONMatrix) }, want: StatusFail, msg: "no Accept, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv: want Content-Type text/csv"},
		{name: "*/* answered in csv", edit: func(o *observations) { o.tin.echo.probes["accept-any"] = ok("probe", "text/csv", tinCSVMatrix) }, want: StatusFail, msg: "Accept */*"},
		{name: "container did not serve", edit: func(o *observations) { o.tin.module.health = platform.Health{Exited: true, ExitCode: 1} }, want: StatusFail, msg: "exited 1 before answering /ping 200"},
		{name: "model not laid out", edit: func(o *observations) { o.tin.err = errors.New("no space left") }, want: StatusFail, msg: "no space left"},
		{name: "not run", edit: func(o *observations) { o.tin = nil }, want: StatusFail, msg: "did not run"},
	},
	"T-IN-02": {
		{name: "str and bytes", want: StatusPass, msg: "input_fn got str for application/json"},
		{name: "csv as bytes", edit: func(o *observations) { o.tin.module.probes["type-csv"] = tinJSON(`{"type": "bytes"}`) }, want: StatusFail, msg: "input_fn got bytes for text/csv, want str"},
		{name: "npy decoded", edit: func(o *observations) { o.tin.module.probes["type-npy"] = tinJSON(`{"type": "str"}`) }, want: StatusFail, msg: "want bytes or bytearray"},
	},
	"T-IN-03": {
		{name: "arrays", want: StatusPass},
		{name: "csv as text", edit: func(o *observations) {
			o.tin.echo.probes["decode-csv"] = tinJSON(`{"type": "builtins.str", "value": "1.5,2.5"}`)
		}, want: StatusFail, msg: "text/csv: predict_fn got builtins.str"},
		{name: "npz refused", edit: func(o *observations) {
			o.tin.echo.probes["decode-npz"] = answer("probe", http.StatusUnsupportedMediaType, "")
		}, want: StatusFail, msg: "application/x-npz: predict_fn was not reached"},
	},
	"T-IN-04": {
		{name: "encoded", want: StatusPass},
		{name: "first of the list not taken", edit: func(o *observations) { o.tin.echo.probes["encode-list-order"] = ok("probe", "text/csv", tinCSVMatrix) }, want: StatusFail, msg: `Accept "application/json, text/csv"`},
		{name: "npy refused", edit: func(o *observations) { o.tin.echo.probes["encode-npy"] = answer("probe", http.StatusNotAcceptable, "") }, want: StatusFail, msg: "want 200, got 406"},
		{name: "wrong values", edit: func(o *observations) { o.tin.echo.probes["encode-json"] = tinJSON("[[1, 2], [3, 4]]") }, want: StatusFail, msg: "want [[1.5 2.5] [3.5 4.5]]"},
	},
	"T-IN-05": {
		{name: "500 with traceback", want: StatusPass},
		{name: "400", edit: func(o *observations) {
			o.tin.module.probes["raise"] = answer("raise", http.StatusBadRequest, "sagekit-probe-failure")
		}, want: StatusFail, msg: "want 500, got 400"},
		{name: "no traceback", edit: func(o *observations) {
			o.tin.module.probes["raise"] = answer("raise", http.StatusInternalServerError, "sagekit-probe-failure")
		}, want: StatusFail, msg: "lacks the traceback"},
		{name: "no message", edit: func(o *observations) {
			o.tin.module.probes["raise"] = answer("raise", http.StatusInternalServerError, "Traceback")
		}, want: StatusFail, msg: "lacks the exception's message"},
	},
	"T-IN-06": {
		{name: "one worker, timeout", want: StatusPass, msg: "one worker process (pid 41)"},
		{name: "two workers", edit: func(o *observations) { o.tin.module.pids = []int{41, 42} }, want: StatusFail, msg: "want 1 worker process, got 2"},
		{name: "no timeout", edit: func(o *observations) {
			o.tin.transform.probes["timeout"] = &invocation{status: http.StatusOK, elapsed: 9 * time.Second}
		}, want: StatusFail, msg: "got 200 after 9s"},
		{name: "worker probe failed", edit: func(o *observations) {
			o.tin.module.pids = nil
			o.tin.module.probes["workers-0-1"] = answer("workers", http.StatusServiceUnavailable, "")
		}, want: StatusFail, msg: "a request of the worker probe got 503"},
	},
	"T-IN-07": {
		{name: "installed", want: StatusPass},
		{name: "not installed", edit: func(o *observations) {
			o.tin.echo.probes["facts"] = tinJSON(`{"module": "sagekit_tin_echo", "dep_error": "ModuleNotFoundError", "pythonpath": "/opt/ml/model/code"}`)
		}, want: StatusFail, msg: "could not import sagekit_tin_probe_dep"},
		{name: "code not on the path", edit: func(o *observations) {
			o.tin.echo.probes["facts"] = tinJSON(`{"module": "sagekit_tin_echo", "dep": "` + tinDepValue + `", "pythonpath": "/opt/program"}`)
		}, want: StatusFail, msg: "want /opt/ml/model/code on PYTHONPATH"},
	},
	"T-IN-08": {
		{name: "modules chosen", want: StatusPass, msg: "refused: the container exited 1"},
		{name: "both answered with an error", edit: func(o *observations) {
			o.tin.both = &tinScenario{health: healthy, probes: map[string]*invocation{"both": answer("both", http.StatusInternalServerError, "")}}
		}, want: StatusPass, msg: "answered 500"},
		{name: "both served", edit: func(o *observations) {
			o.tin.both = &tinScenario{health: healthy, probes: map[string]*invocation{"both": tinJSON(`{"served": "predict_fn"}`)}}
		}, want: StatusFail, msg: "was served"},
		{name: "image's own module", edit: func(o *observations) {
			o.tin.module.probes["type-json"] = tinJSON(`{"type": "str", "module": "handler"}`)
		}, want: StatusFail, msg: "SAGEMAKER_PROGRAM unset: want the model's inference.py"},
		{name: "transform_fn ignored", edit: func(o *observations) { o.tin.transform.probes["transform"] = tinJSON(`{"served": "predict_fn"}`) }, want: StatusFail, msg: "transform_fn: want its answer"},
	},
}
