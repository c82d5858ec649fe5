package optml

import (
	"errors"
	"strings"
	"testing"
)

// fuzzLoader feeds arbitrary bytes to one config file and checks the loader
// never panics and fails only with a *FileError naming that file.
func fuzzLoader(f *testing.F, name string, seeds []string, load func(Paths) error) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := At(t.TempDir())
		writeConfig(t, p, name, string(data))
		err := load(p)
		if err == nil {
			return
		}
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *FileError", err, err)
		}
		if !strings.HasSuffix(fe.File, name) || !strings.Contains(err.Error(), name) {
			t.Fatalf("error %q does not name %s", err, name)
		}
	})
}

func FuzzLoadHyperparameters(f *testing.F) {
	fuzzLoader(f, HyperparametersFile, []string{`{}`, `{"epochs":"2","sagemaker_program":"\"train.py\""}`, `{"a":1}`, `{"a":null}`, `[`, ``, `null`},
		func(p Paths) error { _, err := p.LoadHyperparameters(); return err })
}

func FuzzLoadInputDataConfig(f *testing.F) {
	fuzzLoader(f, InputDataConfigFile, []string{`{}`, `{"train":{"TrainingInputMode":"File","S3DistributionType":"FullyReplicated","RecordWrapperType":"None"}}`, `{"x y":{}}`, `{"t":{"TrainingInputMode":"Stream"}}`},
		func(p Paths) error { _, err := p.LoadInputDataConfig(); return err })
}

func FuzzLoadResourceConfig(f *testing.F) {
	fuzzLoader(f, ResourceConfigFile, []string{`{"current_host":"algo-1","hosts":["algo-1"]}`, `{"current_host":"algo-1","instance_groups":[{"instance_group_name":"g","hosts":["algo-1"]}],"topology":null}`, `{}`, `{"hosts":1}`},
		func(p Paths) error { _, err := p.LoadResourceConfig(); return err })
}

func FuzzLoadCheckpointConfig(f *testing.F) {
	fuzzLoader(f, CheckpointConfigFile, []string{`{}`, `{"LocalPath":"/opt/ml/checkpoints","S3Uri":"s3://b/k"}`, `{"LocalPath":1}`},
		func(p Paths) error { _, err := p.LoadCheckpointConfig(); return err })
}

// FuzzLoadTraining breaks all four files at once; LoadTraining joins their
// *FileErrors.
func FuzzLoadTraining(f *testing.F) {
	f.Add([]byte(`{}`), []byte(`{}`), []byte(`{"current_host":"algo-1"}`), []byte(`{}`))
	f.Add([]byte(`{"a":1}`), []byte(`[`), []byte(`{}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, hp, idc, rc, cc []byte) {
		p := At(t.TempDir())
		writeConfig(t, p, HyperparametersFile, string(hp))
		writeConfig(t, p, InputDataConfigFile, string(idc))
		writeConfig(t, p, ResourceConfigFile, string(rc))
		writeConfig(t, p, CheckpointConfigFile, string(cc))
		cfg, err := p.LoadTraining()
		if err == nil {
			if cfg == nil || cfg.Resource.CurrentHost == "" || cfg.Hyperparameters == nil {
				t.Fatalf("LoadTraining = %+v with nil error", cfg)
			}
			return
		}
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v is not a *FileError", err)
		}
	})
}
