package toolkit

import (
	"flag"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/hyperparam"
	"github.com/sagekit/sagekit/sdk/optml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func mustParse(t *testing.T, s string) hyperparam.Object {
	t.Helper()
	v, err := hyperparam.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return v.(hyperparam.Object)
}

// The wants come from the toolkit's test_mapping.py (contract.md 1.8.3),
// with values written as they arrive in hyperparameters.json.
func TestArgs(t *testing.T) {
	tests := []struct {
		hps  string
		want []string
	}{
		{`{"da-sh":"1","un_der":"2","un-sh":"3","da_der":"2"}`, []string{"--da-sh", "1", "--da_der", "2", "--un-sh", "3", "--un_der", "2"}},
		{`{"truthy":"true","falsy":"false"}`, []string{"--falsy", "False", "--truthy", "True"}},
		{`{"U":"1","b":"2","T":"","":"42"}`, []string{"", "42", "-T", "", "-U", "1", "-b", "2"}},
		{`{"map":"{\"a\":[1,3,4]}","channel_dirs":"{\"train\":\"foo\",\"eval\":\"bar\"}"}`, []string{"--channel_dirs", "eval=bar,train=foo", "--map", "a=[1, 3, 4]"}},
		{`{"epochs":"2","lr":"0.01","name":"\"abc\"","flag":"true"}`, []string{"--epochs", "2", "--flag", "True", "--lr", "0.01", "--name", "abc"}},
		{`{"n":"null","l":"[\"a\", 1.5, null, true, {\"k\": \"it's\"}]","e":"1e-05","big":"1e16","é":"x"}`,
			[]string{"--big", "1e+16", "-e", "1e-05", "-l", `['a', 1.5, None, True, {'k': "it's"}]`, "-n", "", "-é", "x"}},
	}
	for _, tt := range tests {
		_, user := Split(mustParse(t, tt.hps))
		if diff := cmp.Diff(tt.want, Args(user)); diff != "" {
			t.Errorf("Args(%s) mismatch (-want +got):\n%s", tt.hps, diff)
		}
	}
}

var tenth = 0.1

func TestFloatRepr(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0.01, "0.01"}, {1e-05, "1e-05"}, {0.0001, "0.0001"}, {2, "2.0"}, {math.Copysign(0, -1), "-0.0"},
		{1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {1.5e300, "1.5e+300"}, {tenth + 0.2, "0.30000000000000004"},
		{123456789.125, "123456789.125"}, {5e-324, "5e-324"}, {math.Inf(1), "inf"}, {math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := FloatRepr(tt.f); got != tt.want {
			t.Errorf("FloatRepr(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestStrAndJSON(t *testing.T) {
	v := hyperparam.Value(`{"b": [1, 2.0, "x\"y", null, true], "a": {"z": NaN, "y": -Infinity}, "c": "é\u0001\u007f😀/<"}`)
	if got, want := Str(v), `{'b': [1, 2.0, 'x"y', None, True], 'a': {'z': nan, 'y': -inf}, 'c': 'é\x01\x7f😀/<'}`; got != want {
		t.Errorf("Str = %s\nwant   %s", got, want)
	}
	if got, want := JSON(v), `{"a":{"y":-Infinity,"z":NaN},"b":[1,2.0,"x\"y",null,true],"c":"\u00e9\u0001\u007f\ud83d\ude00/<"}`; got != want {
		t.Errorf("JSON = %s\nwant   %s", got, want)
	}
	big, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	if got := Str([]any{big, "a'b", "\u00a0"}); got != `[123456789012345678901234567890, "a'b", '\xa0']` {
		t.Errorf("Str(list) = %s", got)
	}
}

func TestSplit(t *testing.T) {
	sm, user := Split(mustParse(t, `{"sagemaker_program":"\"train.py\"","epochs":"2","_tuning_objective_metric":"loss","sagemaker_mpi_enabled":"true","default_user_module_name":"m","lr":"0.1"}`))
	if diff := cmp.Diff([]string{"sagemaker_program", "_tuning_objective_metric", "sagemaker_mpi_enabled", "default_user_module_name"}, sm.Keys()); diff != "" {
		t.Errorf("reserved keys mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"epochs", "lr"}, user.Keys()); diff != "" {
		t.Errorf("user keys mismatch (-want +got):\n%s", diff)
	}
}

func TestCountGPUs(t *testing.T) {
	out := "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)\nNo devices\n"
	if got := CountGPUs([]byte(out)); got != 2 {
		t.Errorf("CountGPUs = %d, want 2", got)
	}
}

type goldenCase struct {
	name    string
	hps     string
	idc     string
	rc      string
	environ map[string]string
	sys     System
}

var goldenCases = []goldenCase{
	{
		name: "issue-example",
		hps:  `{"epochs":"2","lr":"0.01","name":"\"abc\"","flag":"true"}`,
		idc:  `{}`,
		rc:   `{"current_host":"algo-1","hosts":["algo-1"]}`,
		sys:  System{NumCPUs: 2},
	},
	{
		name: "script-mode",
		hps: `{"epochs": "2", "batch-size": "32", "learning-rate": "0.001", "sagemaker_program": "\"train.py\"",
  "sagemaker_submit_directory": "\"s3://bucket/job-name/source/sourcedir.tar.gz\"", "sagemaker_container_log_level": "20",
  "sagemaker_job_name": "\"job-name\"", "sagemaker_region": "\"us-east-1\"", "sagemaker_mpi_enabled": "true"}`,
		idc: `{"train": {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
  "validation": {"TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key", "RecordWrapperType": "None"}}`,
		rc: `{"current_host":"algo-2","current_instance_type":"ml.p4d.24xlarge","current_group_name":"homogeneousCluster",
 "hosts":["algo-1","algo-2"],
 "instance_groups":[{"hosts":["algo-2","algo-1"],"instance_group_name":"homogeneousCluster","instance_type":"ml.p4d.24xlarge"}],
 "network_interface_name":"eth0","topology":null}`,
		environ: map[string]string{"TRAINING_JOB_NAME": "job-name", "SAGEMAKER_TRAINING_MODULE": "sagemaker_pytorch_container.training:main"},
		sys:     System{NumCPUs: 96, NumGPUs: 8},
	},
	{
		name:    "toolkit-vectors",
		hps:     `{"da-sh":"1","un_der":"2","un-sh":"3","da_der":"2","truthy":"true","falsy":"false","U":"1","T":"","map":"{\"a\":[1,3,4]}","channel_dirs":"{\"train\":\"foo\",\"eval\":\"bar\"}","none":"null","tiny":"1e-05","text":"[\"a\", \"it's\"]"}`,
		idc:     `{"training": {"TrainingInputMode": "File"}}`,
		rc:      `{"current_host":"algo-1","hosts":["algo-1"],"topology":[{"hostName":"algo-1","capacityUnitId":"cu-1"}]}`,
		environ: map[string]string{"SAGEMAKER_PROGRAM": "run.sh", "SM_HP_MP_PARAMETERS": "{}", "AWS_DEFAULT_REGION": "eu-west-1"},
		sys:     System{NumCPUs: 4, NumNeurons: 64, SMDDPRun: true},
	},
	{
		name: "tricky-values",
		hps: `{"f1":"1e22","f2":"1.0","f3":"-0.0","f4":"1E400","f5":"NaN","f6":"-Infinity","f7":"123456789.123456789","f8":"0.1",
  "big":"123456789012345678901234567890","lead":"01","u":"\"\u00e9t\u00e9 \ud83d\ude00\"","q":"\"say \\\"hi\\\" it's\"",
  "nested":"{\"z\": [1, {\"y\": null}], \"a\": {\"b\": true}}","list":"[[], {}, \"\", 2.50]","ws":" 7 ","Mixed-Case_Key":"x",
  "sagemaker_distribution_instance_groups":"[\"train\"]","sagemaker_container_log_level":"\"10\"","sagemaker_program":"5"}`,
		idc: `{"b": {"TrainingInputMode": "Pipe"}, "A.1-x": {"TrainingInputMode": "FastFile"}}`,
		rc: `{"current_host":"algo-1","hosts":["algo-1","algo-2","algo-3"],"current_group_name":"train",
 "instance_groups":[{"instance_group_name":"data","instance_type":"ml.c5.xlarge","hosts":["algo-3"]},{"instance_group_name":"train","instance_type":"ml.p4d.24xlarge","hosts":["algo-2","algo-1"]}]}`,
		environ: map[string]string{"SAGEMAKER_PROGRAM": "", "SM_HP_MP_PARAMETERS": ""},
		sys:     System{NumCPUs: 1, NumGPUs: 1, SMDDPMPRun: true},
	},
}

func TestGolden(t *testing.T) {
	p := optml.At("/opt/ml")
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Hyperparameters: mustParse(t, tc.hps), InputDataConfig: mustParse(t, tc.idc), ResourceConfig: mustParse(t, tc.rc)}
			lookup := func(k string) (string, bool) { v, ok := tc.environ[k]; return v, ok }
			env, err := New(p, cfg, tc.sys, lookup)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var b strings.Builder
			b.WriteString("# argv\n")
			b.WriteString(JSON(env.Args) + "\n")
			b.WriteString("# SM_* environment, in the toolkit's order\n")
			b.WriteString(Describe(env.Vars))
			b.WriteString("# the toolkit's own environment\n")
			b.WriteString(Describe(env.ProcessVars))
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("environment mismatch (-want +got):\n%s", diff)
			}
			if got := len(env.Training); got != 37 {
				t.Errorf("SM_TRAINING_ENV has %d keys, want 37", got)
			}
		})
	}
}

// The issue's example, asserted directly as well as through its golden file.
func TestIssueExample(t *testing.T) {
	tc := goldenCases[0]
	cfg := Config{Hyperparameters: mustParse(t, tc.hps), InputDataConfig: hyperparam.Object{}, ResourceConfig: mustParse(t, tc.rc)}
	env, err := New(optml.At("/opt/ml"), cfg, tc.sys, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(env.Args, " "), "--epochs 2 --flag True --lr 0.01 --name abc"; got != want {
		t.Errorf("argv = %q, want %q", got, want)
	}
	vars := map[string]string{}
	for _, v := range env.Vars {
		vars[v.Name] = v.Value
	}
	for name, want := range map[string]string{
		"SM_HP_FLAG": "true", "SM_HP_NAME": "abc", "SM_HP_LR": "0.01", "SM_HP_EPOCHS": "2",
		"SM_HPS":                    `{"epochs":2,"flag":true,"lr":0.01,"name":"abc"}`,
		"SM_USER_ARGS":              `["--epochs","2","--flag","True","--lr","0.01","--name","abc"]`,
		"SM_NETWORK_INTERFACE_NAME": "eth0",
		"SM_NUM_GPUS":               "0",
		"SM_MODULE_NAME":            "None",
		"SM_USER_ENTRY_POINT":       "",
		"SM_CHANNELS":               "[]",
		"SM_CURRENT_INSTANCE_TYPE":  "local",
		"SM_LOG_LEVEL":              "20",
		"SM_MODULE_DIR":             "/opt/ml/code",
		"SM_OUTPUT_DATA_DIR":        "/opt/ml/output/data",
	} {
		if vars[name] != want {
			t.Errorf("%s = %q, want %q", name, vars[name], want)
		}
	}
}

func TestNewRequiresCurrentHost(t *testing.T) {
	_, err := New(optml.At("/opt/ml"), Config{ResourceConfig: hyperparam.Object{}}, System{}, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "current_host") {
		t.Errorf("New without current_host: error = %v, want one naming current_host", err)
	}
}

func TestReadConfig(t *testing.T) {
	p := optml.At(t.TempDir())
	cfg, err := ReadConfig(p)
	if err != nil {
		t.Fatalf("ReadConfig on an empty tree: %v", err)
	}
	if v, _ := cfg.ResourceConfig.Get("current_host"); v != "algo-1" {
		t.Errorf("default current_host = %v, want algo-1", v)
	}
	if err := p.Write(optml.Layout{Hyperparameters: optml.Hyperparameters{"b": "1", "a": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(p); err != nil {
		t.Fatalf("ReadConfig: %v", err)
	}
	if err := os.WriteFile(p.Hyperparameters(), []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The toolkit keeps a value that is not a string as it is.
	cfg, err = ReadConfig(p)
	if err != nil {
		t.Fatalf("ReadConfig with a non-string value: %v", err)
	}
	if v, _ := cfg.Hyperparameters.Get("a"); v != int64(1) {
		t.Errorf("hyperparameter a = %#v, want int64(1)", v)
	}
	if err := os.WriteFile(p.ResourceConfig(), []byte(`[`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(p); err == nil || !strings.Contains(err.Error(), "resourceconfig.json") {
		t.Errorf("ReadConfig with broken JSON: error = %v, want one naming the file", err)
	}
}

// Python's str.upper maps some characters to several (checked against
// Python 3.11 for every code point).
func TestPyUpper(t *testing.T) {
	for in, want := range map[string]string{"learning-rate": "LEARNING-RATE", "straße": "STRASSE", "ﬁx": "FIX", "ǆ": "Ǆ", "ŉ": "ʼN", "a.1_b": "A.1_B"} {
		if got := pyUpper(in); got != want {
			t.Errorf("pyUpper(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewManyHyperparameters: the environment of 80,000 hyperparameters is
// computed in time linear in their number (a scan per key made it
// quadratic): eight times the keys take well under 24 times as long, and a
// machine's speed or the race detector cancels out of the ratio (the fastest
// of three runs of each size is compared).
func TestNewManyHyperparameters(t *testing.T) {
	const n = 80_000
	build := func(n int) time.Duration {
		hps := make(hyperparam.Object, n)
		for i := range hps {
			hps[i] = hyperparam.Member{Key: "k" + strconv.Itoa(i), Value: strconv.Itoa(i)}
		}
		cfg := Config{Hyperparameters: hps, InputDataConfig: hyperparam.Object{}, ResourceConfig: hyperparam.Object{{Key: "current_host", Value: "algo-1"}}}
		start := time.Now()
		env, err := New(optml.At("/opt/ml"), cfg, System{}, func(string) (string, bool) { return "", false })
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		hp := 0
		for _, v := range env.Vars {
			if strings.HasPrefix(v.Name, "SM_HP_K") {
				hp++
			}
		}
		if hp != n || len(env.Args) != 2*n {
			t.Errorf("%d SM_HP_ variables and %d arguments, want %d and %d", hp, len(env.Args), n, 2*n)
		}
		return took
	}
	// The fastest of three runs of each size: a loaded machine stretches
	// single runs, not the fastest one.
	fastest := func(n int) time.Duration {
		d := build(n)
		for range 2 {
			d = min(d, build(n))
		}
		return d
	}
	small, large := fastest(n/8), fastest(n)
	t.Logf("environment of %d hyperparameters in %v, of %d in %v", n/8, small, n, large)
	if large > 24*small+time.Second {
		t.Errorf("%d hyperparameters took %v, %d took %v: want about 8 times as long, not the 64 of a quadratic cost", n, large, n/8, small)
	}
}
