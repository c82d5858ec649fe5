package conformance

import (
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
