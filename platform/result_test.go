package platform

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFinalMetrics(t *testing.T) {
	defs := []MetricDefinition{{"train:loss", `loss=([0-9.]+)`}, {"acc", `accuracy: (\S+)`}, {"never", `nope=(\d)`}}
	got, err := FinalMetrics(defs, []byte("epoch 1 loss=0.9\nepoch 2 loss=0.5\n"), []byte("accuracy: 0.75\nloss=0.25 done\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Metric{{"train:loss", 0.25}, {"acc", 0.75}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FinalMetrics (-want +got):\n%s", d)
	}
	if _, err := FinalMetrics([]MetricDefinition{{"x", `loss=[0-9]+`}}); err == nil {
		t.Error("a regex without a group was accepted")
	}
}

func TestFailureReason(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	tests := []struct {
		name string
		tr   Training
		want string
	}{
		{"ok", Training{Hosts: []HostResult{{Host: "algo-1"}}}, ""},
		{"failure file", Training{Hosts: []HostResult{{Host: "algo-1"}, {Host: "algo-2", ExitCode: 1, Failure: "bad data\n"}}}, "algo-2: bad data"},
		{"exit", Training{Hosts: []HostResult{{Host: "algo-1", ExitCode: 3}}}, "algo-1: exited with code 3 and wrote no /opt/ml/output/failure"},
		{"stopped on purpose", Training{Job: TrainingJob{Stop: stop}, Hosts: []HostResult{{Host: "algo-1", ExitCode: 143, Stop: &StopResult{}}}}, ""},
	}
	for _, tc := range tests {
		if got := tc.tr.FailureReason(); got != tc.want {
			t.Errorf("%s: FailureReason() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
