package optml

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeConfig(t testing.TB, p Paths, name, content string) {
	t.Helper()
	if err := os.MkdirAll(p.InputConfig(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.InputConfig(), name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkFileError asserts err is a *FileError for file whose message has
// every one of wants.
func checkFileError(t *testing.T, err error, file string, wants ...string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FileError", err, err)
	}
	if fe.File != file {
		t.Errorf("FileError.File = %q, want %q", fe.File, file)
	}
	msg := err.Error()
	if !strings.Contains(msg, file) {
		t.Errorf("error %q does not name %s", msg, file)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
}

func TestLoadHyperparameters(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" with missing=true: no file
		missing bool
		want    Hyperparameters
		wantErr []string
	}{
		{name: "strings", content: `{"epochs": "2", "sagemaker_program": "\"train.py\""}`, want: Hyperparameters{"epochs": "2", "sagemaker_program": `"train.py"`}},
		{name: "empty object", content: "{}", want: Hyperparameters{}},
		{name: "missing", missing: true, wantErr: []string{"does not exist"}},
		{name: "empty file", content: " \n", wantErr: []string{"file is empty"}},
		{name: "syntax error", content: "{\n  \"a\": \"1\",\n}", wantErr: []string{"invalid JSON at line 3, column 1"}},
		// The toolkit keeps a value that is not a string as it is; its
		// compact JSON text decodes to that value.
		{name: "non-string values", content: `{"epochs": 2, "lr": "0.1", "b": true, "big": 1E400, "n": null, "nested": {"a": [1, 2.50], "b": "x"}}`,
			want: Hyperparameters{"epochs": "2", "lr": "0.1", "b": "true", "big": "1E400", "n": "null", "nested": `{"a":[1,2.50],"b":"x"}`}},
		{name: "array", content: `["a"]`, wantErr: []string{"file holds a JSON array; it must hold a JSON object"}},
		{name: "null", content: `null`, wantErr: []string{"file holds JSON null"}},
		{name: "trailing data", content: `{} {}`, wantErr: []string{"unexpected data after the JSON object"}},
		{name: "truncated", content: `{"a": "`, wantErr: []string{"invalid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := At(t.TempDir())
			if !tt.missing {
				writeConfig(t, p, HyperparametersFile, tt.content)
			}
			got, err := p.LoadHyperparameters()
			if tt.wantErr != nil {
				checkFileError(t, err, p.Hyperparameters(), tt.wantErr...)
				if tt.missing && !errors.Is(err, ErrNotExist) {
					t.Errorf("errors.Is(%v, ErrNotExist) = false", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadHyperparameters: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LoadHyperparameters mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadInputDataConfig(t *testing.T) {
	p := At(t.TempDir())
	got, err := p.LoadInputDataConfig()
	if err != nil || len(got) != 0 {
		t.Fatalf("LoadInputDataConfig without a file = %v, %v; want no channels", got, err)
	}
	writeConfig(t, p, InputDataConfigFile, `{"train": {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
 "validation": {"TrainingInputMode": "Pipe"}}`)
	got, err = p.LoadInputDataConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := InputDataConfig{
		"train":      {TrainingInputMode: "File", S3DistributionType: "FullyReplicated", RecordWrapperType: "None", ContentType: "text/csv"},
		"validation": {TrainingInputMode: "Pipe"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadInputDataConfig mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"train", "validation"}, got.Names()); diff != "" {
		t.Errorf("Names mismatch (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ content, want string }{
		{`{"bad name!": {"TrainingInputMode": "File"}, "x": {"TrainingInputMode": "Stream"}}`, `channel "bad name!": name must be`},
		{`{"x": {"TrainingInputMode": "Stream"}}`, `TrainingInputMode "Stream" is not File, FastFile or Pipe`},
		{`{"x": {"TrainingInputMode": 1}}`, "JSON number where string was expected"},
		{`{"x": "File"}`, "JSON string where optml.Channel was expected"},
		{`[]`, "JSON array"},
		{`{`, "invalid JSON"},
	} {
		writeConfig(t, p, InputDataConfigFile, tc.content)
		_, err := p.LoadInputDataConfig()
		checkFileError(t, err, p.InputDataConfig(), tc.want)
	}
}

func TestLoadResourceConfig(t *testing.T) {
	p := At(t.TempDir())
	_, err := p.LoadResourceConfig()
	checkFileError(t, err, p.ResourceConfig(), "does not exist")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing resourceconfig.json: errors.Is(ErrNotExist) = false")
	}

	writeConfig(t, p, ResourceConfigFile, `{"current_host":"algo-2"}`)
	got, err := p.LoadResourceConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := ResourceConfig{CurrentHost: "algo-2", Hosts: []string{"algo-2"}, NetworkInterfaceName: "eth0",
		CurrentGroupName: "homogeneousCluster", CurrentInstanceType: "local"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}

	writeConfig(t, p, ResourceConfigFile, `{"current_host":"algo-1","current_instance_type":"ml.c5.xlarge","current_group_name":"homogeneousCluster",
 "hosts":["algo-1","algo-2"],
 "instance_groups":[{"instance_group_name":"homogeneousCluster","instance_type":"ml.c5.xlarge","hosts":["algo-2","algo-1"]}],
 "network_interface_name":"ethwe","topology":null}`)
	got, err = p.LoadResourceConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got.NetworkInterfaceName != "ethwe" || len(got.InstanceGroups) != 1 || got.InstanceGroups[0].Hosts[0] != "algo-2" {
		t.Errorf("LoadResourceConfig = %+v", got)
	}

	for _, tc := range []struct{ content, want string }{
		{`{"hosts":["algo-1"]}`, `"current_host" is missing or empty`},
		{`{"current_host": 1}`, "JSON number where string was expected"},
		{`{"current_host": "a", "hosts": "a"}`, "hosts: JSON string where []string was expected"},
		{`null`, "JSON null"},
	} {
		writeConfig(t, p, ResourceConfigFile, tc.content)
		_, err := p.LoadResourceConfig()
		checkFileError(t, err, p.ResourceConfig(), tc.want)
	}
}

func TestLoadCheckpointConfig(t *testing.T) {
	p := At(t.TempDir())
	cc, err := p.LoadCheckpointConfig()
	if cc != nil || err != nil {
		t.Fatalf("LoadCheckpointConfig without a file = %v, %v; want nil, nil", cc, err)
	}
	writeConfig(t, p, CheckpointConfigFile, `{"S3Uri": "s3://b/ckpt"}`)
	cc, err = p.LoadCheckpointConfig()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&CheckpointConfig{LocalPath: p.Checkpoints(), S3URI: "s3://b/ckpt"}, cc); diff != "" {
		t.Errorf("LoadCheckpointConfig mismatch (-want +got):\n%s", diff)
	}
	writeConfig(t, p, CheckpointConfigFile, `{"LocalPath": 3}`)
	_, err = p.LoadCheckpointConfig()
	checkFileError(t, err, p.CheckpointConfig(), "LocalPath")
}

func TestLoadTraining(t *testing.T) {
	p := At(t.TempDir())
	cfg, err := p.LoadTraining()
	if err != nil {
		t.Fatalf("LoadTraining on an empty tree: %v", err)
	}
	if cfg.Resource.CurrentHost != "algo-1" || len(cfg.Hyperparameters) != 0 || cfg.Checkpoint != nil {
		t.Errorf("LoadTraining defaults = %+v", cfg)
	}

	writeConfig(t, p, HyperparametersFile, `{"a": 1,}`)
	writeConfig(t, p, InputDataConfigFile, `{`)
	writeConfig(t, p, ResourceConfigFile, `{}`)
	writeConfig(t, p, CheckpointConfigFile, `[]`)
	_, err = p.LoadTraining()
	if err == nil {
		t.Fatal("LoadTraining with four broken files returned nil error")
	}
	for _, f := range []string{p.Hyperparameters(), p.InputDataConfig(), p.ResourceConfig(), p.CheckpointConfig()} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("LoadTraining error does not name %s:\n%v", f, err)
		}
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	p := At(t.TempDir())
	rc := SingleHost("algo-2", "algo-2", "algo-1")
	l := Layout{
		Hyperparameters: Hyperparameters{"epochs": "2", "sagemaker_program": `"train.py"`},
		Channels:        map[string]map[string][]byte{"train": {"a.csv": []byte("1,2\n"), "sub/b.csv": []byte("3\n")}},
		ChannelConfig:   map[string]Channel{"eval": {TrainingInputMode: InputModePipe}},
		Resource:        &rc,
		Checkpoint:      &CheckpointConfig{S3URI: "s3://b/c"},
	}
	if err := p.Write(l); err != nil {
		t.Fatalf("Write: %v", err)
	}
	cfg, err := p.LoadTraining()
	if err != nil {
		t.Fatalf("LoadTraining after Write: %v", err)
	}
	if diff := cmp.Diff(l.Hyperparameters, cfg.Hyperparameters); diff != "" {
		t.Errorf("hyperparameters mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"eval", "train"}, cfg.InputData.Names()); diff != "" {
		t.Errorf("channels mismatch (-want +got):\n%s", diff)
	}
	if cfg.InputData["train"].S3DistributionType != "FullyReplicated" || cfg.InputData["eval"].TrainingInputMode != InputModePipe {
		t.Errorf("channel config = %+v", cfg.InputData)
	}
	if diff := cmp.Diff([]string{"algo-1", "algo-2"}, cfg.Resource.Hosts); diff != "" {
		t.Errorf("hosts not sorted (-want +got):\n%s", diff)
	}
	if cfg.Resource.CurrentHost != "algo-2" || cfg.Checkpoint.LocalPath != p.Checkpoints() {
		t.Errorf("resource %+v, checkpoint %+v", cfg.Resource, cfg.Checkpoint)
	}
	b, err := os.ReadFile(filepath.Join(p.Channel("train"), "sub", "b.csv"))
	if err != nil || string(b) != "3\n" {
		t.Errorf("channel file = %q, %v", b, err)
	}
	for _, d := range []string{p.Model(), p.OutputData(), p.Checkpoints()} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s is not a directory: %v", d, err)
		}
	}
}

func TestPathsFromLookup(t *testing.T) {
	if got := FromLookup(func(string) (string, bool) { return "", false }).Root(); got != DefaultRoot {
		t.Errorf("root without SAGEMAKER_BASE_DIR = %q", got)
	}
	p := FromLookup(func(k string) (string, bool) { return "/tmp/x/", k == EnvBaseDir })
	if p.Root() != "/tmp/x" || p.Hyperparameters() != "/tmp/x/input/config/hyperparameters.json" ||
		p.Channel("train") != "/tmp/x/input/data/train" || p.Failure() != "/tmp/x/output/failure" {
		t.Errorf("paths below /tmp/x: %+v", p)
	}
}
