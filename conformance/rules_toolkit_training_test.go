package conformance

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/optml"
)

// goodToolkitTraining is what the toolkit training play records of an
// image that behaves as sagemaker-training-toolkit does: each scenario's
// /opt/ml is laid out as the play lays it out, the toolkit's environment
// is computed from it as the play computes it, and each probe reports
// exactly that environment. The runs are made once; each call returns a
// copy its caller may change.
func goodToolkitTraining(t *testing.T) *tkTrainObs {
	t.Helper()
	tkGood.once.Do(func() { tkGood.runs, tkGood.err = goodToolkitRuns() })
	if tkGood.err != nil {
		t.Fatal(tkGood.err)
	}
	obs := &tkTrainObs{runs: map[string]*tkRun{}}
	for name, run := range tkGood.runs {
		c := *run
		c.codeModes = maps.Clone(run.codeModes)
		c.records = map[string]*tkProbeRecord{}
		for k, rec := range run.records {
			r := *rec
			r.Argv = slices.Clone(rec.Argv)
			r.Environ = maps.Clone(rec.Environ)
			c.records[k] = &r
		}
		obs.runs[name] = &c
	}
	return obs
}

var tkGood struct {
	once sync.Once
	runs map[string]*tkRun
	err  error
}

func goodToolkitRuns() (map[string]*tkRun, error) {
	scs, err := tkScenarios()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sagekit-conformance-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	runs := map[string]*tkRun{}
	for _, sc := range scs {
		p := optml.At(filepath.Join(dir, sc.name))
		rc := optml.SingleHost("algo-1", "algo-1")
		if sc.noInterface {
			rc.NetworkInterfaceName = ""
		}
		if err := p.Write(optml.Layout{Hyperparameters: sc.hps, Channels: sc.channels, Resource: &rc}); err != nil {
			return nil, err
		}
		cfg, err := toolkit.ReadConfig(p)
		if err != nil {
			return nil, err
		}
		name := "sagekit-conformance-test-tk-" + sc.name
		env := map[string]string{"PATH": tkDefaultPath, optml.EnvTrainingJobName: name, optml.EnvTrainingJobARN: "arn:aws:sagemaker:local:000000000000:training-job/" + name}
		maps.Copy(env, sc.env)
		sys := toolkit.System{NumCPUs: 2}
		if sc.gpus > 0 {
			sys.NumGPUs = toolkit.CountGPUs([]byte(tkGpuListing))
		}
		want, err := toolkit.New(optml.At(optml.DefaultRoot), cfg, sys, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.name, err)
		}
		environ := map[string]string{}
		for _, v := range append(want.Vars, want.ProcessVars...) {
			environ[v.Name] = v.Value
		}
		probe := func(argv0 string, spec *string) *tkProbeRecord {
			return &tkProbeRecord{Argv: append([]string{argv0}, want.Args...), Environ: environ, Cwd: tkCodeDir, Spec: spec, CPUCount: 2, Which: map[string]*string{}}
		}
		run := &tkRun{sc: sc, want: want, host: platform.HostResult{Host: "algo-1", Paths: p}, successSize: -1, codeModes: map[string]os.FileMode{}, records: map[string]*tkProbeRecord{}}
		for f, c := range sc.code {
			run.codeModes[f] = c.mode
		}
		switch sc.name {
		case scEnv, scHyperparam, scSubmitS3:
			run.records["probe"] = probe("probe.py", nil)
		case scSubmitTar:
			run.records["probe"] = probe("probe.py", nil)
			run.codeModes["probe.py"] = 0o644
		case scPackage:
			mod := "probepkg"
			run.records["probe"] = probe(tkCodeDir+"/probepkg.py", &mod)
		case scCommand:
			rec := probe("probe.py", nil)
			rec.Environ = maps.Clone(environ)
			rec.Environ["SAGEKIT_PROBE_ARGV0"] = "./run-probe"
			run.records["probe"] = rec
			run.codeModes["run-probe"] = 0o777
		case scExit3:
			run.host.ExitCode, run.host.HasFailureFile = 1, true
			run.host.Failure = userScriptFailurePrefix + "\nErrorMessage \"sagekit probe: failing on purpose with exit code 3\"\nCommand \"/usr/bin/python3 fail.py\""
		case scOwnFailure:
			run.host.ExitCode, run.host.HasFailureFile, run.host.Failure = 2, true, ownFailureText
		case scRequirements:
			run.records["req"] = &tkProbeRecord{Value: probeDepValue}
		case scModule:
			run.records["framework"] = probe("probe.py", nil)
		}
		if run.host.ExitCode == 0 {
			run.successSize = 0
		}
		runs[sc.name] = run
	}
	return runs, nil
}

// edit runs f on the run of scenario sc.
func tkEdit(sc string, f func(run *tkRun)) func(o *observations) {
	return func(o *observations) { f(o.tkTrain.runs[sc]) }
}

// setEnv sets (or, with "", removes) a variable the probe of sc saw.
func setEnv(sc, probe, name, value string) func(o *observations) {
	return tkEdit(sc, func(run *tkRun) {
		env := maps.Clone(run.records[probe].Environ)
		if value == "" {
			delete(env, name)
		} else {
			env[name] = value
		}
		run.records[probe].Environ = env
	})
}

var toolkitTrainingCases = map[string][]ruleCase{
	"T-TR-01": {
		{name: "program chosen", want: StatusPass},
		{name: "hyperparameter won", edit: tkEdit(scEnv, func(run *tkRun) { run.records["other"] = run.records["probe"] }), want: StatusFail, msg: "SAGEMAKER_PROGRAM must win"},
		{name: "hyperparameter not decoded", edit: tkEdit(scHyperparam, func(run *tkRun) { delete(run.records, "probe"); run.host.ExitCode = 1 }), want: StatusFail, msg: "probe.py did not run: exited 1"},
		{name: "run not made", edit: func(o *observations) { o.tkTrain.runs[scEnv].err = errEngine }, want: StatusSkip, msg: "could not be made"},
		{name: "play not made", edit: func(o *observations) { o.tkTrain.err = errEngine }, want: StatusFail, msg: "could not be made"},
	},
	"T-TR-02": {
		{name: "code from the tarball and from /opt/ml/code", want: StatusPass},
		{name: "tarball not extracted", edit: tkEdit(scSubmitTar, func(run *tkRun) { delete(run.codeModes, "probe.py") }), want: StatusFail, msg: "not in /opt/ml/code"},
		{name: "module dir", edit: setEnv(scSubmitS3, "probe", "SM_MODULE_DIR", "/opt/ml/code"), want: StatusFail, msg: "SM_MODULE_DIR"},
		{name: "downloaded and failed", edit: tkEdit(scSubmitS3, func(run *tkRun) { run.host.ExitCode = 1 }), want: StatusFail, msg: "exited 1 after the probe ran"},
	},
	"T-TR-03": {
		{name: "decoded", want: StatusPass},
		{name: "not decoded", edit: setEnv(scEnv, "probe", "SM_HP_NAME", `"iris"`), want: StatusFail, msg: "SM_HP_NAME"},
		{name: "SM_HPS not JSON", edit: setEnv(scEnv, "probe", "SM_HPS", "epochs=3"), want: StatusFail, msg: "not a JSON object"},
		{name: "probe did not run", edit: tkEdit(scEnv, func(run *tkRun) { delete(run.records, "probe") }), want: StatusSkip, msg: "T-TR-01 judges that"},
	},
	"T-TR-04": {
		{name: "reserved keys left out", want: StatusPass},
		{name: "reserved in the environment", edit: setEnv(scEnv, "probe", "SM_HP_SAGEMAKER_REGION", "us-west-2"), want: StatusFail, msg: "SM_HP_SAGEMAKER_REGION is set"},
		{name: "reserved in argv", edit: tkEdit(scEnv, func(run *tkRun) {
			run.records["probe"].Argv = append(run.records["probe"].Argv, "--sagemaker_program", "other.py")
		}), want: StatusFail, msg: "argv holds --sagemaker_program"},
		{name: "reserved in SM_HPS", edit: setEnv(scEnv, "probe", "SM_HPS", `{"sagemaker_job_name":"x"}`), want: StatusFail, msg: `SM_HPS holds "sagemaker_job_name"`},
	},
	"T-TR-05": {
		{name: "args", want: StatusPass},
		{name: "unsorted", edit: tkEdit(scEnv, func(run *tkRun) {
			a := run.records["probe"].Argv
			a[1], a[3] = a[3], a[1]
		}), want: StatusFail, msg: "with SAGEMAKER_PROGRAM=probe.py"},
		{name: "user args", edit: setEnv(scEnv, "probe", "SM_USER_ARGS", "[]"), want: StatusFail, msg: "SM_USER_ARGS"},
	},
	"T-TR-06": {
		{name: "script, module and command", want: StatusPass},
		{name: "wrong directory", edit: tkEdit(scEnv, func(run *tkRun) { run.records["probe"].Cwd = "/" }), want: StatusFail, msg: "probe.py ran in /, want /opt/ml/code"},
		{name: "package as a script", edit: tkEdit(scPackage, func(run *tkRun) { run.records["probe"].Spec = nil }), want: StatusFail, msg: "want python -m probepkg"},
		{name: "command not made executable", edit: tkEdit(scCommand, func(run *tkRun) { run.codeModes["run-probe"] = 0o644 }), want: StatusFail, msg: "run-probe has mode 0644 after the run, want 0777"},
		{name: "command not run by the shell", edit: setEnv(scCommand, "probe", "SAGEKIT_PROBE_ARGV0", "/opt/ml/code/run-probe"), want: StatusFail, msg: "want ./run-probe"},
	},
	"T-TR-07": {
		{name: "exported", want: StatusPass},
		{name: "missing", edit: setEnv(scEnv, "probe", "SM_CURRENT_HOST", ""), want: StatusFail, msg: "SM_CURRENT_HOST"},
		{name: "training env not JSON", edit: setEnv(scEnv, "probe", "SM_TRAINING_ENV", "{"), want: StatusFail, msg: "SM_TRAINING_ENV"},
	},
	"T-TR-08": {
		{name: "channels", want: StatusPass},
		{name: "case changed", edit: setEnv(scEnv, "probe", "SM_CHANNEL_EVAL-SET", "/opt/ml/input/data/eval-set"), want: StatusFail, msg: "SM_CHANNEL_EVAL-SET"},
	},
	"T-TR-09": {
		{name: "counted", want: StatusPass},
		{name: "every line counted", edit: setEnv(scEnv, "probe", "SM_NUM_GPUS", "3"), want: StatusFail, msg: "SM_NUM_GPUS"},
		{name: "failure not 0", edit: setEnv(scHyperparam, "probe", "SM_NUM_GPUS", "2"), want: StatusFail, msg: "exits 9"},
	},
	"T-TR-10": {
		{name: "paths", want: StatusPass},
		{name: "host suffix", edit: setEnv(scEnv, "probe", "SM_OUTPUT_DATA_DIR", "/opt/ml/output/data/algo-1"), want: StatusFail, msg: "SM_OUTPUT_DATA_DIR"},
		{name: "no default interface", edit: setEnv(scEnv, "probe", "SM_NETWORK_INTERFACE_NAME", ""), want: StatusFail, msg: "SM_NETWORK_INTERFACE_NAME"},
	},
	"T-TR-11": {
		{name: "failure file", want: StatusPass},
		{name: "program's exit code", edit: tkEdit(scExit3, func(run *tkRun) { run.host.ExitCode = 3 }), want: StatusFail, msg: "exited 3, want 1"},
		{name: "no failure file", edit: tkEdit(scExit3, func(run *tkRun) { run.host.HasFailureFile, run.host.Failure = false, "" }), want: StatusFail, msg: "no /opt/ml/output/failure"},
		{name: "other text", edit: tkEdit(scExit3, func(run *tkRun) { run.host.Failure = "exit status 3" }), want: StatusFail, msg: "begins \"exit status 3\""},
	},
	"T-TR-12": {
		{name: "kept", want: StatusPass},
		{name: "overwritten", edit: tkEdit(scOwnFailure, func(run *tkRun) { run.host.Failure = userScriptFailurePrefix }), want: StatusFail, msg: "was overwritten"},
		{name: "removed", edit: tkEdit(scOwnFailure, func(run *tkRun) { run.host.HasFailureFile, run.host.Failure = false, "" }), want: StatusFail, msg: "is gone"},
	},
	"T-TR-13": {
		{name: "success file", want: StatusPass},
		{name: "none", edit: tkEdit(scEnv, func(run *tkRun) { run.successSize = -1 }), want: StatusFail, msg: "no /opt/ml/output/success"},
		{name: "not empty", edit: tkEdit(scEnv, func(run *tkRun) { run.successSize = 3 }), want: StatusFail, msg: "holds 3 bytes"},
	},
	"T-TR-14": {
		{name: "installed", want: StatusPass},
		{name: "not installed", edit: tkEdit(scRequirements, func(run *tkRun) {
			delete(run.records, "req")
			run.host.ExitCode = 1
		}), want: StatusFail, msg: "req.py did not run"},
		{name: "another version", edit: tkEdit(scRequirements, func(run *tkRun) { run.records["req"] = &tkProbeRecord{Value: "0.9"} }), want: StatusFail, msg: `VALUE = "0.9"`},
	},
	"T-TR-15": {
		{name: "function ran", want: StatusPass},
		{name: "script ran instead", edit: tkEdit(scModule, func(run *tkRun) {
			run.records["probe"] = run.records["framework"]
			delete(run.records, "framework")
		}), want: StatusFail, msg: "probe.py (SAGEMAKER_PROGRAM) ran instead"},
		{name: "both ran", edit: tkEdit(scModule, func(run *tkRun) { run.records["probe"] = run.records["framework"] }), want: StatusFail, msg: "probe.py ran besides"},
		{name: "failed after", edit: tkEdit(scModule, func(run *tkRun) { run.host.ExitCode = 1 }), want: StatusFail, msg: "exited 1"},
	},
}
