package conformance

import (
	"net/http"
	"strings"
	"time"
)

// inferenceRules are the rules of contract section 12.5, real-time inference on the container side.
var inferenceRules = ruleSection{
	title: "Real-time inference (C-IN)",
	rules: []Rule{
		{
			ID: "C-IN-01", Level: Must,
			Description: "`docker run IMAGE serve` starts an HTTP server listening on 0.0.0.0:8080",
			Hint:        "Listen on 0.0.0.0:8080 (not 127.0.0.1) when started with the argument serve.",
			How:         "Runs the image with CMD replaced by `serve` and the model mounted read-only; something must answer HTTP on port 8080 before the start-up deadline.",
			plays:       []play{playServe},
			check: func(o *observations) outcome {
				s := o.serve
				if s == nil || s.err != nil {
					return fail("`IMAGE serve` could not start: %v", o.serveErr())
				}
				h := s.effectiveHealth()
				switch {
				case h.Answered:
					return pass("answered HTTP on 8080 after %s", h.Elapsed.Round(time.Millisecond))
				case h.Exited && s.noModel:
					return fail("the container exited %d before answering on port 8080, with an empty /opt/ml/model because training wrote no model (see C-TR-03 and C-TR-05)%s", h.ExitCode, logTail(s.logs)).
						withFix("Make training succeed first (C-TR-05): serving had no model to load. Then the server must load /opt/ml/model and listen on 0.0.0.0:8080.")
				case h.Exited:
					return fail("the container exited %d before answering on port 8080%s", h.ExitCode, logTail(s.logs))
				}
				return fail("nothing answered HTTP on port 8080 within %s (last error: %v)%s", o.opts.windows.StartupTimeout, h.LastErr, logTail(s.logs))
			},
		},
		{
			ID: "C-IN-02", Level: Must, Claim: ClaimBindToPort,
			Description: "When SAGEMAKER_BIND_TO_PORT is set, listen on that port instead; otherwise 8080",
			Hint:        "Read SAGEMAKER_BIND_TO_PORT and listen there; fall back to 8080.",
			How:         "For images labelled com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true: starts a second serving container with SAGEMAKER_BIND_TO_PORT=9081 and expects /ping 200 on that port.",
			plays:       []play{playBind},
			deps:        []string{"C-IN-04", "C-IN-12"},
			check: func(o *observations) outcome {
				b := o.bind
				if b == nil || b.err != nil {
					return fail("could not start the container: %v", o.bindErr())
				}
				if !b.health.Healthy {
					return fail("no /ping 200 on port %d (SAGEMAKER_BIND_TO_PORT) within %s", bindPort, o.opts.windows.StartupTimeout)
				}
				return pass("healthy on port %d", bindPort)
			},
		},
		{
			ID: "C-IN-03", Level: Must,
			Description: "Any extra port comes from within SAGEMAKER_SAFE_PORT_RANGE (inclusive)",
			Hint:        "Pick internal ports (metrics, workers) from SAGEMAKER_SAFE_PORT_RANGE.",
			Advice:      "The ports a container listens on inside its own network namespace are not visible from outside without tools in the image.",
		},
		{
			ID: "C-IN-04", Level: Must,
			Description: "GET /ping answers 200 within 2 s once ready",
			Hint:        "Keep /ping cheap: answer 200 as soon as the model is loaded, without running inference.",
			How:         "Polls GET /ping with a 2 s timeout per ping until a 200 or the start-up deadline (--startup-timeout, 4 min by default).",
			plays:       []play{playServe},
			deps:        []string{"C-IN-01"},
			check: func(o *observations) outcome {
				h := o.serve.effectiveHealth()
				if h.Healthy {
					return pass("first 200 after %s (%d pings)", h.Elapsed.Round(time.Millisecond), h.Pings)
				}
				if h.Exited {
					return fail("the container exited %d before /ping answered 200%s", h.ExitCode, logTail(o.serve.logs))
				}
				return fail("no 200 within %s per ping before the %s deadline: %d pings, %d slower than the timeout, last status %d",
					o.opts.windows.PingTimeout, o.opts.windows.StartupTimeout, h.Pings, h.Slow, h.LastStatus)
			},
		},
		{
			ID: "C-IN-05", Level: Must,
			Description: "GET /ping does not answer 200 before the model can serve",
			Hint:        "Answer /ping with a non-200 status (e.g. 503) until the model is loaded.",
			How:         "Sends the sample invocation right after the first 200 ping; fails when it is refused but succeeds a few seconds later.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-07"},
			check: func(o *observations) outcome {
				f := o.serve.first
				if f == nil {
					return skip("no invocation right after /ping")
				}
				if f.ok(o.opts) {
					return pass("the first invocation after /ping succeeded (%d)", f.status)
				}
				return fail("/ping answered 200 but the first invocation got %s; it succeeded %s later", f.describe(), o.serve.firstRetryDelay.Round(time.Millisecond))
			},
		},
		{
			ID: "C-IN-06", Level: Must,
			Description: "Accepts socket connections on the serving port within 250 ms",
			Hint:        "Start listening before loading the model, and keep the accept loop free.",
			Advice:      "The kernel completes TCP handshakes before the program accepts them, and Docker's port proxy accepts on its behalf, so connection latency is not observable from outside; /ping latency (C-IN-04) is checked instead.",
		},
		{
			ID: "C-IN-07", Level: Must,
			Description: "POST /invocations answers within 60 s (the sample request gets the expected answer)",
			Hint:        "Answer within 60 s; move slow work to model loading, and check the sample payload and content type the suite sends.",
			How:         "Sends the sample request (--payload/--content-type, or three rows of four numbers as text/csv) with a 60 s timeout; expects 2xx (or --expect-status) and --expect-body-contains when given.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-04"},
			check: func(o *observations) outcome {
				s := o.serve.sample
				if s == nil {
					return skip("no sample invocation was sent")
				}
				if !s.ok(o.opts) {
					return fail("the sample invocation got %s%s", s.describe(), o.expectations())
				}
				return pass("%d %s in %s", s.status, s.contentType, s.elapsed.Round(time.Millisecond))
			},
		},
		{
			ID: "C-IN-08", Level: Must,
			Description: "Accepts bodies up to 6 MB",
			Hint:        "Raise the server's or proxy's body limit to at least 6 MiB (nginx: client_max_body_size 6m).",
			How:         "Sends the sample grown to just under 6 MiB (6291456 bytes: CSV rows repeated, JSON padded with whitespace); fails on 413 or a dropped connection.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-07"},
			evidence: func(o *observations) (outcome, bool) {
				// A 413 is the server's own answer: the sample need not work.
				if o.serve != nil && o.serve.large != nil && o.serve.large.err == nil && o.serve.large.status == http.StatusRequestEntityTooLarge {
					return fail("a %d-byte body got %s", o.serve.large.size, o.serve.large.describe()), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				l := o.serve.large
				if l == nil {
					return skip("the large invocation was not sent")
				}
				if l.err != nil || l.status == http.StatusRequestEntityTooLarge {
					return fail("a %d-byte body got %s", l.size, l.describe())
				}
				return pass("a %d-byte body got %d", l.size, l.status)
			},
		},
		{
			ID: "C-IN-09", Level: Must,
			Description: "Unknown request headers are ignored",
			Hint:        "Do not reject requests for headers you do not know; SageMaker may add some.",
			How:         "Sends the sample again with extra headers (X-Amzn-SageMaker-Inference-Id, X-Amzn-SageMaker-Custom-Attributes, X-Sagekit-Conformance-Probe) and expects the same status as without.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-07"},
			evidence: func(o *observations) (outcome, bool) {
				// The same request answered differently with extra
				// headers, whether or not the sample's answer was right.
				if s := o.serve; s != nil && s.sample != nil && s.sample.err == nil && s.headers != nil &&
					(s.headers.err != nil || s.headers.status != s.sample.status) {
					return fail("with extra headers the sample got %s instead of %d", s.headers.describe(), s.sample.status), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				h := o.serve.headers
				if h == nil {
					return skip("not sent")
				}
				if h.err != nil || h.status != o.serve.sample.status {
					return fail("with extra headers the sample got %s instead of %d", h.describe(), o.serve.sample.status)
				}
				return pass("same status (%d) with extra headers", h.status)
			},
		},
		{
			ID: "C-IN-10", Level: Must,
			Description: "Sets a Content-Type on every /invocations response",
			Hint:        "Always set Content-Type on /invocations responses; SageMaker hands it to the caller.",
			How:         "Checks the Content-Type header of every /invocations response the suite received.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-07"},
			evidence: func(o *observations) (outcome, bool) {
				// Every answer counts, whether or not the sample's was right.
				if missing := missingContentType(o.serve); len(missing) > 0 {
					return fail("no Content-Type on: %s", strings.Join(missing, ", ")), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				if missing := missingContentType(o.serve); len(missing) > 0 {
					return fail("no Content-Type on: %s", strings.Join(missing, ", "))
				}
				return pass("Content-Type set on every response (sample: %s)", o.serve.sample.contentType)
			},
		},
		{
			ID: "C-IN-11", Level: Should,
			Description: "Unsupported input content type is rejected with a 4xx (the reference container uses 415)",
			Hint:        "Answer 415 Unsupported Media Type for content types the model does not read.",
			How:         "Sends a body with Content-Type application/x-sagekit-unsupported and expects a 4xx.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-07"},
			evidence: func(o *observations) (outcome, bool) {
				// A 2xx for a type no model reads is wrong whatever the sample got.
				if o.serve != nil && o.serve.unsupported != nil && o.serve.unsupported.err == nil && o.serve.unsupported.status/100 == 2 {
					return fail("an unsupported content type got %s", o.serve.unsupported.describe()), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				u := o.serve.unsupported
				if u == nil {
					return skip("not sent")
				}
				if u.err != nil || u.status < 400 || u.status > 499 {
					return fail("an unsupported content type got %s", u.describe())
				}
				return pass("answered %d", u.status)
			},
		},
		{
			ID: "C-IN-12", Level: Must,
			Description: "Reads the model from /opt/ml/model and never writes there (read-only in hosting)",
			Hint:        "Write caches and scratch files to /tmp, never under /opt/ml/model.",
			How:         "Serves with /opt/ml/model mounted read-only; if the container exits, starts it again with the model writable, and fails the rule when that one comes up.",
			plays:       []play{playServe},
			check: func(o *observations) outcome {
				s := o.serve
				if s == nil || s.err != nil {
					return skip("`IMAGE serve` could not start")
				}
				if s.health.Healthy {
					return pass("served with /opt/ml/model read-only")
				}
				if s.rw != nil && s.rw.Healthy {
					return fail("exited %d with /opt/ml/model read-only, but became healthy with it writable%s", s.health.ExitCode, logTail(s.roLogs))
				}
				return skip("the container never became healthy, read-only or not")
			},
		},
		{
			ID: "C-IN-13", Level: Must,
			Description: "Handles SIGTERM: stops accepting and exits within 30 s; PID 1 forwards the signal to its children",
			Hint:        "Handle SIGTERM in PID 1: stop the server gracefully and exit; forward the signal to child processes.",
			How:         "Sends SIGTERM to the serving container after the other checks and expects it to exit within 30 s (SIGKILL follows, as on SageMaker).",
			plays:       []play{playServe},
			deps:        []string{"C-IN-01"},
			evidence: func(o *observations) (outcome, bool) {
				// Outliving SIGTERM breaks the rule whether or not the
				// container ever answered on 8080.
				if s := o.serve; s != nil && s.stopErr == nil && s.stop.Killed {
					return fail("still running %s after SIGTERM: killed", o.opts.windows.HostingGrace), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				st := o.serve.stop
				switch {
				case o.serve.stopErr != nil:
					return skip("could not stop: %v", o.serve.stopErr)
				case st.AlreadyExited:
					return skip("the container had already exited (%d)", st.ExitCode)
				case st.Killed:
					return fail("still running %s after SIGTERM: killed", o.opts.windows.HostingGrace)
				}
				return pass("exited %d %s after SIGTERM", st.ExitCode, st.Elapsed.Round(time.Millisecond))
			},
		},
		{
			ID: "C-IN-14", Level: Should,
			Description: "Non-matching paths get 404",
			Hint:        "Answer 404 for routes other than /ping, /invocations (and the optional ones).",
			How:         "GET /sagekit-conformance/no-such-path must answer 404.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-04"},
			check: func(o *observations) outcome {
				n := o.serve.notFound
				if n == nil {
					return skip("not sent")
				}
				if n.status != http.StatusNotFound {
					return fail("an unknown path got %s", n.describe())
				}
				return pass("404")
			},
		},
		{
			ID: "C-IN-15", Level: Should,
			Description: "X-Amzn-SageMaker-Custom-Attributes is echoed or set on the response if the model wants the caller to see it",
			Hint:        "Set X-Amzn-SageMaker-Custom-Attributes on the response when the caller should see attributes.",
			Advice:      "Whether a model wants the caller to see attributes is the model's choice; any answer is conformant.",
		},
		{
			ID: "C-IN-16", Level: Should,
			Description: "If the server process dies the container exits",
			Hint:        "Supervise worker processes in PID 1 and exit when one dies.",
			Advice:      "Which process inside the container is the server is not visible from outside, so the suite cannot kill it alone.",
		},
		{
			ID: "C-IN-17", Level: Must,
			Description: "Runs as root; needs no writable image paths other than /tmp",
			Hint:        "Remove USER from the Dockerfile (or set USER root); SageMaker expects containers to run as root.",
			How:         "Reads the image config: USER must be empty, root or 0.",
			plays:       []play{playStatic},
			check: func(o *observations) outcome {
				u := o.image.User
				switch strings.SplitN(u, ":", 2)[0] {
				case "", "root", "0":
					return pass("runs as root")
				}
				return fail("USER is %q", u)
			},
		},
		{
			ID: "C-IN-18", Level: Should,
			Description: "Logs go to stdout/stderr",
			Hint:        "Log to stdout/stderr (symlink server log files to /dev/stdout and /dev/stderr).",
			How:         "The serving container must write something to stdout or stderr while it starts and serves.",
			plays:       []play{playServe},
			deps:        []string{"C-IN-01"},
			check: func(o *observations) outcome {
				if len(strings.TrimSpace(string(o.serve.logs))) == 0 {
					return fail("the serving container wrote nothing to stdout or stderr")
				}
				return pass("%d bytes of logs", len(o.serve.logs))
			},
		},
	},
}
