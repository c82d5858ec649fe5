package conformance

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/platform"
)

// TestEvidenceFailsRulesWhosePrerequisitesFailed: a rule skipped because a
// rule it depends on failed still fails when the runs show its violation
// directly, and is still skipped when they do not.
func TestEvidenceFailsRulesWhosePrerequisitesFailed(t *testing.T) {
	exitOne := &platform.Training{Hosts: []platform.HostResult{{Host: "algo-1", ExitCode: 1, Logs: []byte("boom\n")}}}
	withReason := &platform.Training{Hosts: []platform.HostResult{{Host: "algo-1", ExitCode: 1, HasFailureFile: true, Failure: "boom"}}}
	broken := &serveObs{
		sample:      &invocation{name: "sample", status: 500, contentType: "text/plain"},
		large:       &invocation{name: "large", size: 6 << 20, status: 413, contentType: "text/plain"},
		headers:     &invocation{name: "headers", status: 500},
		unsupported: &invocation{name: "unsupported", status: 200, contentType: "text/plain"},
	}
	quiet := &serveObs{
		sample:      &invocation{name: "sample", status: 500, contentType: "text/plain"},
		large:       &invocation{name: "large", size: 6 << 20, status: 500, contentType: "text/plain"},
		unsupported: &invocation{name: "unsupported", status: 415, contentType: "text/plain"},
	}
	tests := []struct {
		name  string
		o     observations
		rules map[string]Status
		says  map[string]string
	}{
		{
			name:  "training exits 1 without a failure file",
			o:     observations{train: exitOne, failure: exitOne, provoked: []provokedRun{{"with /opt/ml/model read-only", exitOne, nil}}},
			rules: map[string]Status{"C-TR-05": StatusFail, "C-TR-03": StatusSkip, "C-TR-04": StatusFail},
			says:  map[string]string{"C-TR-04": "the run the valid job exited 1 on algo-1 without writing /opt/ml/output/failure"},
		},
		{
			name:  "training exits 1 with a reason",
			o:     observations{train: withReason, failure: withReason, provoked: []provokedRun{{"with /opt/ml/model read-only", withReason, nil}}},
			rules: map[string]Status{"C-TR-05": StatusFail, "C-TR-03": StatusSkip, "C-TR-04": StatusSkip},
		},
		{
			name:  "serving answers wrongly and breaks the rules it can be caught on",
			o:     observations{serve: broken},
			rules: map[string]Status{"C-IN-07": StatusSkip, "C-IN-08": StatusFail, "C-IN-09": StatusSkip, "C-IN-10": StatusFail, "C-IN-11": StatusFail},
			says:  map[string]string{"C-IN-08": "got 413", "C-IN-10": "no Content-Type on: headers (500)", "C-IN-11": "got 200"},
		},
		{
			name:  "serving answers wrongly and shows nothing more",
			o:     observations{serve: quiet},
			rules: map[string]Status{"C-IN-07": StatusSkip, "C-IN-08": StatusSkip, "C-IN-10": StatusSkip, "C-IN-11": StatusSkip},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.opts, o.claims = defaults(), map[Claim]bool{}
			if o.serve != nil {
				o.serve.health = platform.Health{Healthy: true}
				o.serve.first = o.serve.sample
			}
			var selected []*Rule
			for id := range tt.rules {
				selected = append(selected, ruleIndex[id])
			}
			for _, res := range evaluate(&o, selected, &emitter{f: func(Event) {}}) {
				if want := tt.rules[res.ID]; res.Status != want {
					t.Errorf("%s = %s (%s), want %s", res.ID, res.Status, res.Message, want)
				}
				if s := tt.says[res.ID]; s != "" && !strings.Contains(res.Message, s) {
					t.Errorf("%s says %q, want it to say %q", res.ID, res.Message, s)
				}
			}
		})
	}
}

// TestProbeGathersEvidenceWhenTheSampleFails: the serve play sends the
// large, extra-header and unsupported-type requests although the sample got
// a wrong answer, so C-IN-08, C-IN-09 and C-IN-11 fail on what those
// requests got; against a server that answers them correctly they are
// skipped, as C-IN-07 failed.
func TestProbeGathersEvidenceWhenTheSampleFails(t *testing.T) {
	broken := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		switch {
		case r.Header.Get("Content-Type") == "application/x-sagekit-unsupported":
			io.WriteString(w, "predicted anyway")
		case len(body) > 5<<20:
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		case r.Header.Get("X-Sagekit-Conformance-Probe") != "":
			http.Error(w, "unexpected header", http.StatusBadRequest)
		default:
			http.Error(w, "wrong model", http.StatusInternalServerError)
		}
	}
	quiet := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		if r.Header.Get("Content-Type") == "application/x-sagekit-unsupported" {
			http.Error(w, "unsupported", http.StatusUnsupportedMediaType)
			return
		}
		http.Error(w, "wrong model", http.StatusInternalServerError)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		rules   map[string]Status
	}{
		{"broken", broken, map[string]Status{"C-IN-07": StatusFail, "C-IN-08": StatusFail, "C-IN-09": StatusFail, "C-IN-10": StatusSkip, "C-IN-11": StatusFail}},
		{"quiet", quiet, map[string]Status{"C-IN-07": StatusFail, "C-IN-08": StatusSkip, "C-IN-09": StatusSkip, "C-IN-10": StatusSkip, "C-IN-11": StatusSkip}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			o := observations{opts: defaults(), claims: map[Claim]bool{}}
			s := &serveObs{health: platform.Health{Healthy: true, Answered: true}}
			o.serve = s
			r := &runner{opts: o.opts, o: &o}
			r.probe(t.Context(), &platform.Endpoint{URL: ts.URL}, s)
			for _, iv := range []*invocation{s.large, s.headers, s.unsupported} {
				if iv == nil {
					t.Fatalf("the play did not send every request after a failed sample: large %v, headers %v, unsupported %v", s.large, s.headers, s.unsupported)
				}
			}
			var selected []*Rule
			for id := range tt.rules {
				selected = append(selected, ruleIndex[id])
			}
			for _, res := range evaluate(&o, selected, &emitter{f: func(Event) {}}) {
				if want := tt.rules[res.ID]; res.Status != want {
					t.Errorf("%s = %s (%s), want %s", res.ID, res.Status, res.Message, want)
				}
			}
		})
	}
}

// TestEvidenceOfTheOtherDependentRules: C-IN-13 and C-TR-08 fail on a
// container killed after SIGTERM, C-MM-04 and C-MM-06 on a 2xx for a model
// never loaded, though a rule they depend on failed; without that evidence
// they are skipped.
func TestEvidenceOfTheOtherDependentRules(t *testing.T) {
	refused := platform.Health{LastErr: errors.New("connection refused")}
	noTrain := &platform.Training{Hosts: []platform.HostResult{{Host: "algo-1", StartErr: errors.New("exec: \"train\": not found")}}}
	killed := &platform.Training{Hosts: []platform.HostResult{{Host: "algo-1", ExitCode: 137, Stop: &platform.StopResult{Killed: true}}}}
	stopped := &platform.Training{Hosts: []platform.HostResult{{Host: "algo-1", Stop: &platform.StopResult{}}}}
	ok := platform.Health{Healthy: true, Answered: true}
	mm := func(unknown int) *mmObs {
		return &mmObs{health: ok, load: answer("load", 500, "no"), reload: answer("reload", 500, "no"),
			getUnknown: answer("GET unknown", unknown, "{}"), invokeUnknown: answer("invoke unknown", unknown, "1")}
	}
	serving := func() *serveObs {
		return &serveObs{health: ok, first: answer("first", 200, "1"), sample: answer("sample", 200, "1")}
	}
	tests := []struct {
		name  string
		o     observations
		rules map[string]Status
	}{
		{"serving never answers and outlives SIGTERM", observations{serve: &serveObs{health: refused, stop: platform.StopResult{Killed: true}}},
			map[string]Status{"C-IN-01": StatusFail, "C-IN-13": StatusFail}},
		{"serving never answers and stops on SIGTERM", observations{serve: &serveObs{health: refused, stop: platform.StopResult{ExitCode: 0}}},
			map[string]Status{"C-IN-01": StatusFail, "C-IN-13": StatusSkip}},
		{"training cannot start and a run outlives SIGTERM", observations{train: noTrain, sigterm: killed},
			map[string]Status{"C-TR-01": StatusFail, "C-TR-08": StatusFail}},
		{"training cannot start and a run stops on SIGTERM", observations{train: noTrain, sigterm: stopped},
			map[string]Status{"C-TR-01": StatusFail, "C-TR-08": StatusSkip}},
		{"loading fails and unknown models answer", observations{serve: serving(), mm: mm(200), claims: map[Claim]bool{ClaimMultiModel: true}},
			map[string]Status{"C-MM-02": StatusFail, "C-MM-04": StatusFail, "C-MM-06": StatusFail}},
		{"loading fails and unknown models get 404", observations{serve: serving(), mm: mm(404), claims: map[Claim]bool{ClaimMultiModel: true}},
			map[string]Status{"C-MM-02": StatusFail, "C-MM-04": StatusSkip, "C-MM-06": StatusSkip}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.opts = defaults()
			if o.claims == nil {
				o.claims = map[Claim]bool{}
			}
			var selected []*Rule
			for id := range tt.rules {
				selected = append(selected, ruleIndex[id])
			}
			for _, res := range evaluate(&o, selected, &emitter{f: func(Event) {}}) {
				if want := tt.rules[res.ID]; res.Status != want {
					t.Errorf("%s = %s (%s), want %s", res.ID, res.Status, res.Message, want)
				}
			}
		})
	}
}
