package scaling

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/local/store"
)

// fleet is one variant whose invocations the test sets.
type fleet struct {
	invocations int64
	instances   int
}

func (f *fleet) VariantLoad(_, _ string) (int64, int, bool) { return f.invocations, f.instances, true }
func (f *fleet) Resize(_, _ string, n int) error            { f.instances = n; return nil }

// asJSON is v as the API answers it (times to the millisecond).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStateSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{instances: 1}
	s, err := New(f, st, time.Second, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 1, 3
	rid := "endpoint/e/variant/v"
	if _, e := s.Register(Target{ServiceNamespace: Namespace, ResourceId: rid, ScalableDimension: Dimension, MinCapacity: &lo, MaxCapacity: &hi}); e != nil {
		t.Fatal(e)
	}
	p := Policy{PolicyName: "track", ServiceNamespace: Namespace, ResourceId: rid, ScalableDimension: Dimension, PolicyType: "TargetTrackingScaling",
		TargetTrackingScalingPolicyConfiguration: &TargetTracking{TargetValue: 100, ScaleInCooldown: 600}}
	p.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification = &struct {
		PredefinedMetricType string `json:"PredefinedMetricType"`
		ResourceLabel        string `json:"ResourceLabel,omitempty"`
	}{PredefinedMetricType: Metric}
	if _, e := s.Put(p); e != nil {
		t.Fatal(e)
	}
	// 1,000 invocations in 10 s on one instance: 6,000 a minute, far past
	// the target of 100: out to the maximum.
	now := time.Now()
	s.tick(now)
	f.invocations = 1000
	s.tick(now.Add(10 * time.Second))
	if f.instances != 3 {
		t.Fatalf("after the load: %d instances, want 3", f.instances)
	}
	st.Close()

	st, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	again, err := New(f, st, time.Second, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(asJSON(t, s.Targets(nil)), asJSON(t, again.Targets(nil))); d != "" {
		t.Errorf("targets after a restart (-before +after):\n%s", d)
	}
	if d := cmp.Diff(asJSON(t, s.Policies(nil, "")), asJSON(t, again.Policies(nil, ""))); d != "" {
		t.Errorf("policies after a restart (-before +after):\n%s", d)
	}
	if d := cmp.Diff(asJSON(t, s.Activities("")), asJSON(t, again.Activities(""))); d != "" || len(again.Activities("")) != 1 {
		t.Errorf("activities after a restart: %d (-before +after):\n%s", len(again.Activities("")), d)
	}
	// No load now, but the scale-in cool-down (600 s from the scale-out)
	// still holds after the restart.
	again.tick(now.Add(20 * time.Second))
	again.tick(now.Add(30 * time.Second))
	if f.instances != 3 {
		t.Errorf("scaled in to %d during the cool-down after a restart", f.instances)
	}
	again.tick(now.Add(700 * time.Second))
	again.tick(now.Add(710 * time.Second))
	if f.instances != 1 {
		t.Errorf("after the cool-down: %d instances, want 1", f.instances)
	}
}
