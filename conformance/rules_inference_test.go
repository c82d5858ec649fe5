package conformance

import (
	"errors"
	"net/http"
	"time"

	"github.com/sagekit/sagekit/platform"
)

var inferenceCases = map[string][]ruleCase{
	"C-IN-01": {
		{name: "answers", want: StatusPass, msg: "answered HTTP on 8080"},
		{name: "answers only with the model writable", edit: func(o *observations) {
			o.serve.health = platform.Health{Exited: true, ExitCode: 1}
			o.serve.rw = &healthy
		}, want: StatusPass},
		{name: "exited without a model", edit: func(o *observations) {
			o.serve.health = platform.Health{Exited: true, ExitCode: 1}
			o.serve.noModel = true
		}, want: StatusFail, msg: "training wrote no model"},
		{name: "exited", edit: func(o *observations) { o.serve.health = platform.Health{Exited: true, ExitCode: 3} }, want: StatusFail, msg: "exited 3 before answering"},
		{name: "listens elsewhere", edit: func(o *observations) {
			o.serve.health = platform.Health{LastErr: errors.New("connection reset by peer")}
		}, want: StatusFail, msg: "nothing answered HTTP on port 8080"},
		{name: "could not start", edit: func(o *observations) { o.serve = &serveObs{err: errors.New("no such image")} }, want: StatusFail, msg: "no such image"},
	},
	"C-IN-02": {
		{name: "healthy", want: StatusPass, msg: "port 9081"},
		{name: "ignores the variable", edit: func(o *observations) { o.bind.health = platform.Health{} }, want: StatusFail, msg: "no /ping 200 on port 9081"},
		{name: "not run", edit: func(o *observations) { o.bind = nil }, want: StatusFail, msg: "not run"},
	},
	"C-IN-04": {
		{name: "healthy", want: StatusPass, msg: "first 200 after 300ms (2 pings)"},
		{name: "exited", edit: func(o *observations) { o.serve.health = platform.Health{Exited: true, ExitCode: 2, Answered: true} }, want: StatusFail, msg: "exited 2 before /ping answered 200"},
		{name: "slow pings", edit: func(o *observations) {
			o.serve.health = platform.Health{Answered: true, Pings: 9, Slow: 9, LastStatus: http.StatusOK}
		}, want: StatusFail, msg: "9 slower than the timeout"},
	},
	"C-IN-05": {
		{name: "ready when healthy", want: StatusPass, msg: "succeeded (200)"},
		{name: "healthy too early", edit: func(o *observations) {
			o.serve.first = answer("first invocation", http.StatusServiceUnavailable, "loading")
			o.serve.firstRetryDelay = 3 * time.Second
		}, want: StatusFail, msg: "succeeded 3s later"},
		{name: "not sent", edit: func(o *observations) { o.serve.first = nil }, want: StatusSkip},
	},
	"C-IN-07": {
		{name: "answered", want: StatusPass, msg: "200 text/csv"},
		{name: "error status", edit: func(o *observations) { o.serve.sample = answer("sample", http.StatusBadRequest, "4 features") }, want: StatusFail, msg: "400 \"4 features\" (expected 2xx)"},
		{name: "expected body missing", edit: func(o *observations) { o.opts.expectBody = "setosa" }, want: StatusFail, msg: "a body containing \"setosa\""},
		{name: "expected status", edit: func(o *observations) {
			o.opts.expectStatus = http.StatusBadRequest
			o.serve.sample = answer("sample", http.StatusBadRequest, "no")
		}, want: StatusPass},
		{name: "timed out", edit: func(o *observations) {
			o.serve.sample = &invocation{name: "sample", err: errDeadline, elapsed: time.Minute}
		}, want: StatusFail, msg: "no answer after 1m0s"},
	},
	"C-IN-08": {
		{name: "accepted", want: StatusPass, msg: "got 200"},
		{name: "too large", edit: func(o *observations) { o.serve.large = answer("6 MiB body", http.StatusRequestEntityTooLarge, "") }, want: StatusFail, msg: "got 413"},
		{name: "dropped", edit: func(o *observations) { o.serve.large = &invocation{err: errors.New("connection reset by peer")} }, want: StatusFail, msg: "connection reset"},
		{name: "413 while the sample fails", evidence: true, edit: func(o *observations) {
			o.serve.large = answer("6 MiB body", http.StatusRequestEntityTooLarge, "")
		}, want: StatusFail, msg: "got 413"},
		{name: "no evidence", evidence: true, want: "no evidence"},
	},
	"C-IN-09": {
		{name: "ignored", want: StatusPass, msg: "same status (200)"},
		{name: "rejected", edit: func(o *observations) {
			o.serve.headers = answer("extra headers", http.StatusBadRequest, "unknown header")
		}, want: StatusFail, msg: "instead of 200"},
	},
	"C-IN-10": {
		{name: "always set", want: StatusPass, msg: "sample: text/csv"},
		{name: "missing on an error", edit: func(o *observations) { o.serve.unsupported.contentType = "" }, want: StatusFail, msg: "no Content-Type on: unsupported content type (415)"},
		{name: "missing while the sample fails", evidence: true, edit: func(o *observations) { o.serve.sample.contentType = "" }, want: StatusFail, msg: "sample (200)"},
		{name: "no evidence", evidence: true, want: "no evidence"},
	},
	"C-IN-11": {
		{name: "415", want: StatusPass, msg: "answered 415"},
		{name: "500", edit: func(o *observations) { o.serve.unsupported = answer("unsupported", http.StatusInternalServerError, "") }, want: StatusFail, msg: "500"},
		{name: "2xx while the sample fails", evidence: true, edit: func(o *observations) { o.serve.unsupported = ok("unsupported", "text/csv", "class-0") }, want: StatusFail, msg: "200"},
		{name: "no evidence", evidence: true, want: "no evidence"},
	},
	"C-IN-12": {
		{name: "read-only", want: StatusPass},
		{name: "writes the model", edit: func(o *observations) {
			o.serve.health = platform.Health{Exited: true, ExitCode: 1}
			o.serve.rw = &healthy
			o.serve.roLogs = []byte("PermissionError: /opt/ml/model/cache\n")
		}, want: StatusFail, msg: "became healthy with it writable"},
		{name: "never healthy", edit: func(o *observations) {
			o.serve.health = platform.Health{Exited: true, ExitCode: 1}
			o.serve.rw = &platform.Health{Exited: true, ExitCode: 1}
		}, want: StatusSkip},
	},
	"C-IN-13": {
		{name: "stops", want: StatusPass, msg: "after SIGTERM"},
		{name: "killed", edit: func(o *observations) { o.serve.stop = platform.StopResult{Killed: true, Elapsed: 30 * time.Second} }, want: StatusFail, msg: "killed"},
		{name: "already exited", edit: func(o *observations) { o.serve.stop = platform.StopResult{AlreadyExited: true, ExitCode: 1} }, want: StatusSkip},
	},
	"C-IN-14": {
		{name: "404", want: StatusPass},
		{name: "200", edit: func(o *observations) { o.serve.notFound = ok("GET /x", "text/plain", "hello") }, want: StatusFail, msg: "an unknown path got 200"},
	},
	"C-IN-17": {
		{name: "root", want: StatusPass},
		{name: "uid 0", edit: func(o *observations) { o.image.User = "0:0" }, want: StatusPass},
		{name: "another user", edit: func(o *observations) { o.image.User = "nobody" }, want: StatusFail, msg: `USER is "nobody"`},
	},
	"C-IN-18": {
		{name: "logs", want: StatusPass},
		{name: "silent", edit: func(o *observations) { o.serve.logs = []byte("\n") }, want: StatusFail, msg: "wrote nothing"},
	},
}

var errDeadline = errors.New("context deadline exceeded")
