package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite models/*.json from botocore's service definitions")

// botocoreData finds botocore's data directory in the Python on PATH.
func botocoreData(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import botocore,os; print(os.path.dirname(botocore.__file__))").Output()
	if err != nil {
		if *update {
			t.Fatalf("finding botocore: %v", err)
		}
		if os.Getenv("SAGEKIT_REQUIRE_PYTHON") == "1" {
			t.Fatal("no botocore in the python3 on PATH (SAGEKIT_REQUIRE_PYTHON=1); install it with: pip install boto3")
		}
		t.Skip("no botocore in the python3 on PATH; install it with: pip install boto3")
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}

var modelDirs = map[string]string{
	SageMaker:          "sagemaker/2017-07-24",
	Logs:               "logs/2014-03-28",
	ApplicationScaling: "application-autoscaling/2016-02-06",
}

// trim keeps every operation's name, and the input shape, with the shapes
// it reaches, of the operations sagekit local implements.
func trim(t *testing.T, raw []byte, supported map[string][]string) []byte {
	t.Helper()
	var full struct {
		Metadata   struct{ TargetPrefix string } `json:"metadata"`
		Operations map[string]struct {
			Input *Ref `json:"input"`
		} `json:"operations"`
		Shapes map[string]*Shape `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	out := Model{TargetPrefix: full.Metadata.TargetPrefix, Operations: map[string]Operation{}, Shapes: map[string]*Shape{}}
	var visit func(string)
	visit = func(name string) {
		if _, ok := out.Shapes[name]; ok {
			return
		}
		s := full.Shapes[name]
		if s == nil {
			t.Fatalf("shape %s missing from the model", name)
		}
		out.Shapes[name] = s
		for _, r := range s.Members {
			visit(r.Shape)
		}
		for _, r := range []*Ref{s.Member, s.Key, s.Value} {
			if r != nil {
				visit(r.Shape)
			}
		}
	}
	for name, op := range full.Operations {
		o := Operation{}
		if _, ok := supported[name]; ok && op.Input != nil {
			o.Input = op.Input.Shape
			visit(o.Input)
		}
		out.Operations[name] = o
	}
	b, err := json.MarshalIndent(&out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestModelsMatchBotocore checks that models/ is botocore's definition of
// each service, trimmed; -update rewrites it.
func TestModelsMatchBotocore(t *testing.T) {
	data := botocoreData(t)
	for svc, dir := range modelDirs {
		f, err := os.Open(filepath.Join(data, dir, "service-2.json.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(zr)
		f.Close()
		got := trim(t, buf.Bytes(), Supported[svc])
		path := filepath.Join("models", svc+".json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from botocore's %s (botocore upgraded, or Supported changed): run go test ./local/wire -run TestModelsMatchBotocore -update", path, dir)
		}
	}
}

func TestSupportedOperationsExist(t *testing.T) {
	for svc, ops := range Supported {
		m, err := LoadModel(svc)
		if err != nil {
			t.Fatal(err)
		}
		for op, fields := range ops {
			o, ok := m.Operations[op]
			if !ok || o.Input == "" {
				t.Errorf("%s.%s: not an operation with an input in the model", svc, op)
				continue
			}
			for _, f := range fields {
				if !m.hasPath(o.Input, strings.Split(f, ".")) {
					t.Errorf("%s.%s: supported member %s is not in the model", svc, op, f)
				}
			}
		}
	}
}

// hasPath reports whether the member path exists under shape, through
// lists and maps.
func (m *Model) hasPath(shape string, path []string) bool {
	s := m.Shapes[shape]
	for s != nil && (s.Type == "list" || s.Type == "map") {
		if s.Type == "list" {
			s = m.Shapes[s.Member.Shape]
		} else {
			s = m.Shapes[s.Value.Shape]
		}
	}
	if len(path) == 0 {
		return s != nil
	}
	if s == nil || s.Type != "structure" {
		return false
	}
	r, ok := s.Members[path[0]]
	return ok && m.hasPath(r.Shape, path[1:])
}

func TestDecode(t *testing.T) {
	m, err := LoadModel(SageMaker)
	if err != nil {
		t.Fatal(err)
	}
	allowed := Supported[SageMaker]["CreateEndpointConfig"]
	tests := []struct {
		name, op, body, code string
		contains             []string
	}{
		{"ok", "DescribeTrainingJob", `{"TrainingJobName":"a-1"}`, "", nil},
		{"missing", "DescribeTrainingJob", `{}`, CodeValidation, []string{"1 validation error detected: Value null at 'trainingJobName' failed to satisfy constraint: Member must not be null"}},
		{"pattern", "DescribeTrainingJob", `{"TrainingJobName":"a_b"}`, CodeValidation, []string{"Value 'a_b' at 'trainingJobName'", "regular expression pattern"}},
		{"length", "DescribeTrainingJob", `{"TrainingJobName":"` + strings.Repeat("a", 64) + `"}`, CodeValidation, []string{"length less than or equal to 63"}},
		{"type", "DescribeTrainingJob", `{"TrainingJobName":5}`, CodeValidation, []string{"Member must be a string"}},
		{"unknown member", "DescribeTrainingJob", `{"TrainingJobName":"a","Nme":1}`, CodeValidation, []string{"'nme' is not a member"}},
		{"enum and range", "CreateEndpointConfig", `{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","InitialInstanceCount":0,"InstanceType":"ml.nope"}]}`, CodeValidation,
			[]string{"2 validation errors detected", "'productionVariants.1.member.initialInstanceCount'", "greater than or equal to 1", "productionVariants.1.member.instanceType", "enum value set"}},
		{"unsupported member", "CreateEndpointConfig", `{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","ModelName":"m","InitialInstanceCount":1,"VolumeSizeInGB":5}]}`, CodeValidation,
			[]string{"ProductionVariants.VolumeSizeInGB is not supported by sagekit local"}},
		{"file uri", "CreateTrainingJob", `{"TrainingJobName":"j","RoleArn":"arn:aws:iam::000000000000:role/r","OutputDataConfig":{"S3OutputPath":"file:///tmp/out"},"AlgorithmSpecification":{"TrainingInputMode":"File","TrainingImage":"i"},"ResourceConfig":{"InstanceCount":1,"VolumeSizeInGB":1},"StoppingCondition":{}}`, "", nil},
		{"http uri", "CreateTrainingJob", `{"TrainingJobName":"j","RoleArn":"arn:aws:iam::000000000000:role/r","OutputDataConfig":{"S3OutputPath":"ftp://x/out"},"AlgorithmSpecification":{"TrainingInputMode":"File","TrainingImage":"i"},"ResourceConfig":{"InstanceCount":1,"VolumeSizeInGB":1},"StoppingCondition":{}}`, CodeValidation, []string{"'outputDataConfig.s3OutputPath'"}},
		{"not json", "DescribeTrainingJob", `{`, CodeSerialization, nil},
		{"unknown operation", "Frobnicate", `{}`, CodeUnknownOperation, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Supported[SageMaker][tc.op]
			if tc.op == "CreateEndpointConfig" {
				a = allowed
			}
			e := m.Decode(tc.op, []byte(tc.body), a, nil)
			if tc.code == "" {
				if e != nil {
					t.Fatalf("Decode(%s) = %v, want no error", tc.body, e)
				}
				return
			}
			if e == nil || e.Code != tc.code {
				t.Fatalf("Decode(%s) = %v, want %s", tc.body, e, tc.code)
			}
			for _, c := range tc.contains {
				if !strings.Contains(e.Message, c) {
					t.Errorf("message %q does not contain %q", e.Message, c)
				}
			}
		})
	}
}

func TestParseAuth(t *testing.T) {
	for _, tc := range []struct {
		h       string
		service string
		bad     bool
	}{
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", "sagemaker", false},
		{"Basic dXNlcjpwYXNz", "", true},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sagemaker, SignedHeaders=host, Signature=abc", "", true},
	} {
		r, _ := http.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", tc.h)
		c, ok, e := ParseAuth(r)
		if !ok || (e != nil) != tc.bad || c.Service != tc.service {
			t.Errorf("ParseAuth(%q) = %+v, %v, %v", tc.h, c, ok, e)
		}
	}
}

// TestDocsListSupported checks that docs/local.md names every supported
// operation and member.
func TestDocsListSupported(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "local.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for svc, ops := range Supported {
		for op, fields := range ops {
			if !strings.Contains(doc, "`"+op+"`") {
				t.Errorf("docs/local.md does not list %s.%s", svc, op)
			}
			for _, f := range fields {
				if !strings.Contains(doc, "`"+f+"`") {
					t.Errorf("docs/local.md does not list %s.%s member %s", svc, op, f)
				}
			}
		}
	}
}
