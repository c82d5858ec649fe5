package conformance

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/platform"
)

// ruleCase is a set of recorded observations and what a rule's check must
// make of it. edit changes the observations of an image that passes every
// rule (goodObservations).
type ruleCase struct {
	name string
	edit func(o *observations)
	want Status
	// msg is a part of the outcome's message.
	msg string
	// evidence judges the rule's evidence (what fails it when a rule it
	// depends on failed) instead of its check.
	evidence bool
}

// ruleCases holds the table of every checked rule, one map per section,
// each in the test file beside the section's rules.
var ruleCases = []map[string][]ruleCase{
	trainingCases, gpuCases, toolkitTrainingCases, inferenceCases,
	toolkitInferenceCases, batchCases, multiModelCases, imageCases,
}

func casesOf(id string) []ruleCase {
	var out []ruleCase
	for _, m := range ruleCases {
		out = append(out, m[id]...)
	}
	return out
}

// TestRuleChecks judges each rule's table of observations without Docker:
// every checked rule has observations it passes and observations it fails.
func TestRuleChecks(t *testing.T) {
	for _, r := range rules {
		cases := casesOf(r.ID)
		if r.Advice != "" {
			if len(cases) > 0 {
				t.Errorf("%s is advice, never checked, but has observation cases", r.ID)
			}
			continue
		}
		seen := map[Status]bool{}
		for _, c := range cases {
			seen[c.want] = true
		}
		if !seen[StatusPass] || !seen[StatusFail] {
			t.Errorf("%s has no observations it passes and observations it fails (%d cases)", r.ID, len(cases))
		}
		t.Run(r.ID, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					o := goodObservations(t)
					if c.edit != nil {
						c.edit(o)
					}
					var oc outcome
					if c.evidence {
						if r.evidence == nil {
							t.Fatalf("%s has no evidence function", r.ID)
						}
						var ok bool
						if oc, ok = r.evidence(o); !ok {
							oc = outcome{status: "no evidence"}
						}
					} else {
						oc = r.check(o)
					}
					if oc.status != c.want || !strings.Contains(oc.msg, c.msg) {
						t.Errorf("%s = %s %q, want %s with %q", r.ID, oc.status, oc.msg, c.want, c.msg)
					}
				})
			}
		})
	}
	for _, m := range ruleCases {
		for id := range m {
			if ruleIndex[id] == nil {
				t.Errorf("observation cases for %s, which is no rule", id)
			}
		}
	}
}

var errEngine = errors.New("the engine went away")

// ok is an answer the suite's defaults accept.
func ok(name, contentType, body string) *invocation {
	return &invocation{name: name, status: http.StatusOK, contentType: contentType, body: []byte(body), elapsed: 5 * time.Millisecond}
}

func answer(name string, status int, body string) *invocation {
	return &invocation{name: name, status: status, contentType: "text/plain", body: []byte(body), elapsed: 5 * time.Millisecond}
}

func host(name string, code int) platform.HostResult {
	return platform.HostResult{Host: name, ExitCode: code, Duration: time.Second, Logs: []byte("training\n")}
}

func failedHost(name string, code int, reason string) platform.HostResult {
	h := host(name, code)
	h.HasFailureFile, h.Failure = true, reason
	return h
}

func training(hosts ...platform.HostResult) *platform.Training {
	return &platform.Training{Hosts: hosts}
}

var healthy = platform.Health{Healthy: true, Answered: true, Elapsed: 300 * time.Millisecond, Pings: 2, LastStatus: http.StatusOK}

// goodObservations are what the plays record of an image that passes
// every rule of the cpu profile: a Go program that trains and serves a
// text/csv model, claiming nothing.
func goodObservations(t *testing.T) *observations {
	o := &observations{opts: defaults(), claims: map[Claim]bool{}}
	o.image = Image{Ref: "example.com/good:1", OS: "linux", Architecture: "amd64", Entrypoint: []string{"/usr/local/bin/program"}}
	o.train = training(host("algo-1", 0))
	o.modelFiles = []string{"model.json"}
	o.failure = training(failedHost("algo-1", 1, "saving the model: read-only file system"))
	o.provoked = []provokedRun{
		{"with /opt/ml/model read-only", o.failure, nil},
		{"with every hyperparameter set to \"" + badHyperparameter + "\"", training(failedHost("algo-1", 2, "hyperparameter \"max_depth\": not an integer")), nil},
		{"without any input channel", training(failedHost("algo-1", 1, "no channel training")), nil},
	}
	sig := host("algo-1", 143)
	sig.Stop = &platform.StopResult{Elapsed: 40 * time.Millisecond, ExitCode: 143}
	o.sigterm = training(sig)
	o.isolated = training(host("algo-1", 0))
	o.multi = training(host("algo-1", 0), host("algo-2", 0))
	o.multiResolve = "algo-1 resolves algo-2 (10.213.1.11)"
	sample := ok("sample", "text/csv", "class-0\nclass-1\nclass-2\n")
	o.serve = &serveObs{
		health:      healthy,
		first:       ok("first invocation", "text/csv", "class-0\nclass-1\nclass-2\n"),
		sample:      sample,
		large:       ok("6 MiB body", "text/csv", "class-0\n"),
		headers:     ok("extra headers", "text/csv", "class-0\n"),
		unsupported: answer("unsupported content type", http.StatusUnsupportedMediaType, "text/csv only"),
		notFound:    answer("GET /sagekit-conformance/no-such-path", http.StatusNotFound, "404 page not found"),
		models:      answer("GET /models", http.StatusNotFound, "404 page not found"),
		stop:        platform.StopResult{Elapsed: 20 * time.Millisecond},
		logs:        []byte("listening on :8080\n"),
	}
	o.serve.large.size = largeSize
	o.bind = &healthObs{health: healthy}
	o.batch = &batchObs{
		health:     healthy,
		execParams: ok("GET /execution-parameters", "application/json", `{"MaxConcurrentTransforms": 4, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}`),
		concurrent: []*invocation{sample, sample, sample, sample},
		records:    sample,
	}
	o.mm = &mmObs{
		health:        healthy,
		load:          answer("load", http.StatusOK, ""),
		reload:        answer("reload", http.StatusConflict, "already loaded"),
		list:          ok("GET /models", "application/json", `{"models": [{"modelName": "`+mmModel+`", "modelUrl": "/opt/ml/models/`+mmModel+`/model"}]}`),
		get:           ok("GET /models/"+mmModel, "application/json", `{"modelName": "`+mmModel+`", "modelUrl": "/opt/ml/models/`+mmModel+`/model"}`),
		getUnknown:    answer("GET /models/sagekit-no-such-model", http.StatusNotFound, ""),
		invoke:        sample,
		invokeUnknown: answer("invoke unknown", http.StatusNotFound, ""),
		del:           answer("delete", http.StatusOK, ""),
		getAfterDel:   answer("GET /models/"+mmModel, http.StatusNotFound, ""),
		delAgain:      answer("delete again", http.StatusNotFound, ""),
	}
	o.gpu = gpuObs{trained: true, health: healthy}
	o.files = fileFacts{cudart: "usr/local/cuda/lib64/libcudart.so.12", getent: true}
	o.tin = goodToolkitInference()
	o.tkTrain = goodToolkitTraining(t)
	return o
}
