package conformance

import (
	"errors"
	"net/http"

	"github.com/sagekit/sagekit/platform"
)

var batchCases = map[string][]ruleCase{
	"C-BT-01": {
		{name: "valid", want: StatusPass},
		{name: "not implemented", edit: func(o *observations) { o.batch.execParams = answer("GET", http.StatusNotFound, "") }, want: StatusNA},
		{name: "string numbers", edit: func(o *observations) {
			o.batch.execParams = ok("GET", "application/json", `{"MaxConcurrentTransforms": "4", "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}`)
		}, want: StatusFail, msg: `MaxConcurrentTransforms is "4", not an integer`},
		{name: "missing key", edit: func(o *observations) {
			o.batch.execParams = ok("GET", "application/json", `{"MaxConcurrentTransforms": 4, "MaxPayloadInMB": 6}`)
		}, want: StatusFail, msg: "BatchStrategy is missing"},
		{name: "error status", edit: func(o *observations) { o.batch.execParams = answer("GET", http.StatusInternalServerError, "") }, want: StatusFail, msg: "answered 500"},
		{name: "unhealthy", edit: func(o *observations) { o.batch.health = platform.Health{} }, want: StatusFail, msg: "did not become healthy"},
	},
	"C-BT-02": {
		{name: "all answered", want: StatusPass, msg: "4 concurrent requests"},
		{name: "one refused", edit: func(o *observations) {
			o.batch.concurrent = []*invocation{o.serve.sample, o.serve.sample, {err: errors.New("connection refused")}, o.serve.sample}
		}, want: StatusFail, msg: "concurrent request 3 of 4"},
	},
	"C-BT-03": {
		{name: "one record each", want: StatusPass, msg: "3 records in, 3 out"},
		{name: "one record for all", edit: func(o *observations) { o.batch.records = ok("multi-record", "text/csv", "class-0\n") }, want: StatusFail, msg: "3 input records gave 1 output records"},
		{name: "not line-based input", edit: func(o *observations) { o.opts.contentType = "application/x-npy" }, want: StatusNA},
		{name: "not line-based answer", edit: func(o *observations) { o.batch.records = ok("multi-record", "application/octet-stream", "x") }, want: StatusNA},
	},
}
