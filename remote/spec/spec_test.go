package spec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func f(v float64) *float64 { return &v }

func TestResolveFillsDefaults(t *testing.T) {
	e, err := Parse([]byte(`
name: churn
variants:
  - name: a
    weight: 3
  - name: b
    instance-type: ml.c5.xlarge
    instance-count: 2
    image: other:1
    model: s3://b/m2.tar.gz
  - name: pipe
    containers:
      - image: pre:1
      - image: algo:1
        model: s3://b/m.tar.gz
  - name: mme
    multi-model: true
    model: s3://b/models/
shadow:
  - name: s
    weight: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Resolve(Defaults{Image: "img:1", Model: "s3://b/m.tar.gz", InstanceType: "ml.m5.large"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Endpoint{Name: "churn",
		Variants: []Variant{
			{Name: "a", Weight: f(3), InstanceType: "ml.m5.large", InstanceCount: 1, Image: "img:1", Model: "s3://b/m.tar.gz"},
			{Name: "b", Weight: f(1), InstanceType: "ml.c5.xlarge", InstanceCount: 2, Image: "other:1", Model: "s3://b/m2.tar.gz"},
			{Name: "pipe", Weight: f(1), InstanceType: "ml.m5.large", InstanceCount: 1, Containers: []Container{{Image: "pre:1"}, {Image: "algo:1", Model: "s3://b/m.tar.gz"}}},
			{Name: "mme", Weight: f(1), InstanceType: "ml.m5.large", InstanceCount: 1, Image: "img:1", Model: "s3://b/models/", MultiModel: true},
		},
		Shadow: []Variant{{Name: "s", Weight: f(0), InstanceType: "ml.m5.large", InstanceCount: 1, Image: "img:1", Model: "s3://b/m.tar.gz"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Resolve (-want +got):\n%s", d)
	}
	if steps := got.Variants[2].Steps(); len(steps) != 2 || steps[1].Image != "algo:1" {
		t.Errorf("Steps() of a pipeline = %+v", steps)
	}
}

func TestResolveReportsEveryProblem(t *testing.T) {
	e, err := Parse([]byte(`
variants:
  - name: a
    weight: -1
  - name: a
    instance-count: -2
    containers:
      - model: s3://x
    image: i
  - name: bad_name
    multi-model: true
shadow:
  - name: s1
  - name: s2
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Resolve(Defaults{InstanceType: "ml.m5.large"})
	if err == nil {
		t.Fatal("Resolve = nil error")
	}
	for _, want := range []string{"weight -1", "the name is used twice", "instance-count -2", "not both", "container 1 has no image",
		`variant "bad_name": a name`, "multi-model needs model", "no image", "one shadow variant"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	_, err := Parse([]byte("variants:\n  - name: a\n    instance_type: ml.m5.large\n"))
	if err == nil || !strings.Contains(err.Error(), "instance_type") {
		t.Errorf("Parse with a misspelt key: %v, want an error naming it", err)
	}
	e, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Resolve(Defaults{}); err == nil || !strings.Contains(err.Error(), "no variants") {
		t.Errorf("an empty file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("variants:\n  - name: a\n    weight: 2\n"))
	f.Add([]byte("shadow: [{name: s, containers: [{image: x}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			return
		}
		e.Resolve(Defaults{Image: "i", Model: "m", InstanceType: "ml.m5.large"})
	})
}
