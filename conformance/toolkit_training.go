package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/optml"
)

// playToolkitTraining plays the toolkit's callers: script-mode training
// runs with code in /opt/ml/code, one per scenario, all at once.
const playToolkitTraining play = "toolkit-training"

// The scenarios of the toolkit training play. Each is one `IMAGE train`
// run with its own /opt/ml and /opt/ml/code; a rule reads only the runs
// that concern it, so an image that breaks one rule fails that rule only.
const (
	scEnv          = "env"
	scHyperparam   = "hyperparameter"
	scPackage      = "package"
	scCommand      = "command"
	scSubmitTar    = "submit-tar"
	scSubmitS3     = "submit-s3"
	scExit3        = "exit-3"
	scOwnFailure   = "own-failure"
	scRequirements = "requirements"
	scModule       = "training-module"
)

// tkCodeDir is /opt/ml/code in the container.
const tkCodeDir = optml.DefaultRoot + "/code"

const tkDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// tkScenario is one toolkit training run.
type tkScenario struct {
	name string
	// what says what the run does, for messages.
	what     string
	hps      optml.Hyperparameters
	env      map[string]string
	code     map[string]tkFile
	channels map[string]map[string][]byte
	isolated bool
	// noInterface leaves network_interface_name out of resourceconfig.json.
	noInterface bool
	// gpus is the number of GPUs the fake nvidia-smi lists as the toolkit
	// counts them (0 when it fails); -1 when there is no fake.
	gpus int
}

// pip reports whether the toolkit runs pip in the scenario.
func (sc *tkScenario) pip() bool {
	_, setup := sc.code["setup.py"]
	_, req := sc.code["requirements.txt"]
	return setup || req
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

type tkFile struct {
	data []byte
	mode os.FileMode
}

// tkProbeRecord is what a probe wrote.
type tkProbeRecord struct {
	Argv       []string           `json:"argv"`
	Environ    map[string]string  `json:"environ"`
	Cwd        string             `json:"cwd"`
	Executable string             `json:"executable"`
	File       string             `json:"file"`
	Spec       *string            `json:"spec"`
	CPUCount   int                `json:"cpu_count"`
	Which      map[string]*string `json:"which"`
	Value      string             `json:"value"`
}

// tkRun is what one scenario's run left.
type tkRun struct {
	sc        *tkScenario
	err       error
	host      platform.HostResult
	tkCodeDir string
	records   map[string]*tkProbeRecord
	// codeModes are the files in /opt/ml/code after the run, with their
	// permission bits.
	codeModes map[string]os.FileMode
	// successSize is the size of /opt/ml/output/success, -1 when missing.
	successSize int64
	// want is the toolkit's environment for the run (package toolkit).
	want    *toolkit.Environment
	wantErr error
}

type tkTrainObs struct {
	err  error
	runs map[string]*tkRun
}

// envScenarioHPs are hyperparameters of every JSON type, as the Python SDK
// writes them (each value JSON-encoded once more), with reserved and other
// sagemaker_* keys.
var envScenarioHPs = optml.Hyperparameters{
	"epochs":                        "3",
	"learning-rate":                 "0.001",
	"Mixed_Case":                    "1e-05",
	"name":                          `"iris"`,
	"strategy":                      "pure_nccl",
	"flag":                          "true",
	"off":                           "false",
	"nothing":                       "null",
	"layers":                        "[64, 32]",
	"opts":                          `{"b": 2, "a": "x"}`,
	"k":                             "7",
	"sagemaker_program":             `"other.py"`,
	"sagemaker_submit_directory":    `"/opt/ml/code"`,
	"sagemaker_region":              `"us-west-2"`,
	"sagemaker_job_name":            `"sagekit-probe-job"`,
	"sagemaker_container_log_level": "20",
	"default_user_module_name":      `"probe"`,
	"_tuning_objective_metric":      `"loss"`,
	"sagemaker_mpi_enabled":         "false",
	"sagemaker_custom_setting":      `"x"`,
}

const s3Submit = "s3://sagekit-conformance-probe/no-such-key/sourcedir.tar.gz"

// tkScenarios builds the scenarios (the generated files cannot fail to
// build, but the wheel and tarball writers return errors).
func tkScenarios() ([]*tkScenario, error) {
	probe := tkFile{data: tkProbeScript("probe"), mode: 0o644}
	whl, whlData, err := tkWheel(probeDepName, probeDepVersion, probeDepModule, []byte(fmt.Sprintf("VALUE = %q\n", probeDepValue)))
	if err != nil {
		return nil, err
	}
	src, err := tkTarGz(map[string][]byte{"probe.py": tkProbeScript("probe")})
	if err != nil {
		return nil, err
	}
	channels := map[string]map[string][]byte{
		"training": {"data.csv": []byte("1,0.5\n0,0.25\n")},
		"Eval-Set": {"data.csv": []byte("1,0.75\n")},
	}
	return []*tkScenario{
		{
			name: scEnv, what: "SAGEMAKER_PROGRAM=probe.py with mixed hyperparameters and channels training and Eval-Set",
			hps: envScenarioHPs, env: map[string]string{optml.EnvProgram: "probe.py"},
			code: map[string]tkFile{"probe.py": probe, "other.py": {data: tkProbeScript("other"), mode: 0o644},
				"bin/nvidia-smi": {data: fakeNvidiaSMI(0), mode: 0o755}},
			channels: channels, noInterface: true, gpus: 2,
		},
		{
			name: scHyperparam, what: `SAGEMAKER_PROGRAM empty and hyperparameter sagemaker_program="\"probe.py\""`,
			hps: optml.Hyperparameters{"sagemaker_program": `"probe.py"`, "epochs": "1"}, env: map[string]string{optml.EnvProgram: ""},
			code: map[string]tkFile{"probe.py": probe, "bin/nvidia-smi": {data: fakeNvidiaSMI(9), mode: 0o755}},
			gpus: 0,
		},
		{
			name: scPackage, what: "setup.py in /opt/ml/code and SAGEMAKER_PROGRAM=probepkg.py",
			hps: optml.Hyperparameters{"epochs": "2", "name": `"iris"`}, env: map[string]string{optml.EnvProgram: "probepkg.py"},
			code: map[string]tkFile{"setup.py": {data: []byte(packageSetup), mode: 0o644}, "probepkg.py": probe},
			gpus: -1,
		},
		{
			name: scCommand, what: "SAGEMAKER_PROGRAM=run-probe (not .py, not executable)",
			hps:  optml.Hyperparameters{"msg": `"it's \"quoted\" $HOME ; echo injected"`, "n": "3", "empty": `""`, "list": "[1, 2]"},
			env:  map[string]string{optml.EnvProgram: "run-probe"},
			code: map[string]tkFile{"run-probe": {data: []byte(commandEntry), mode: 0o644}, "probe.py": probe},
			gpus: -1,
		},
		{
			name: scSubmitTar, what: "sagemaker_submit_directory naming a local sourcedir.tar.gz, /opt/ml/code empty",
			hps: optml.Hyperparameters{"sagemaker_submit_directory": `"` + optml.At(optml.DefaultRoot).Channel("code") + `/sourcedir.tar.gz"`},
			env: map[string]string{optml.EnvProgram: "probe.py"}, code: map[string]tkFile{},
			channels: map[string]map[string][]byte{"code": {"sourcedir.tar.gz": src}},
			gpus:     -1,
		},
		{
			name: scSubmitS3, what: "sagemaker_submit_directory=" + s3Submit + " with /opt/ml/code not empty, no network",
			hps: optml.Hyperparameters{"sagemaker_submit_directory": `"` + s3Submit + `"`},
			env: map[string]string{optml.EnvProgram: "probe.py"}, code: map[string]tkFile{"probe.py": probe},
			isolated: true, gpus: -1,
		},
		{
			name: scExit3, what: "SAGEMAKER_PROGRAM=fail.py, which exits 3",
			env: map[string]string{optml.EnvProgram: "fail.py"}, code: map[string]tkFile{"fail.py": {data: []byte(tkFailScript), mode: 0o644}},
			gpus: -1,
		},
		{
			name: scOwnFailure, what: "SAGEMAKER_PROGRAM=own-failure.py, which writes /opt/ml/output/failure and exits 2",
			env: map[string]string{optml.EnvProgram: "own-failure.py"}, code: map[string]tkFile{"own-failure.py": {data: []byte(ownFailureScript), mode: 0o644}},
			gpus: -1,
		},
		{
			name: scRequirements, what: "requirements.txt naming " + probeDepName + " from the wheel house /opt/ml/code/wheels, no network",
			env: map[string]string{optml.EnvProgram: "req.py"},
			code: map[string]tkFile{"req.py": {data: requirementsScript(), mode: 0o644}, "requirements.txt": {data: requirementsTxt(), mode: 0o644},
				"wheels/" + whl: {data: whlData, mode: 0o644}},
			isolated: true, gpus: -1,
		},
		{
			name: scModule, what: "SAGEMAKER_TRAINING_MODULE=" + frameworkEntry + " with SAGEMAKER_PROGRAM=probe.py",
			env:  map[string]string{optml.EnvProgram: "probe.py", optml.EnvTrainingModule: frameworkEntry},
			code: map[string]tkFile{"probe.py": probe, frameworkModuleName + ".py": {data: frameworkScript(), mode: 0o644}},
			gpus: -1,
		},
	}, nil
}

func (r *runner) playToolkitTraining(ctx context.Context) {
	obs := &tkTrainObs{runs: map[string]*tkRun{}}
	r.o.tkTrain = obs
	scs, err := tkScenarios()
	if err != nil {
		obs.err = fmt.Errorf("making the probe code: %w", err)
		return
	}
	imageEnv, err := r.imageEnv(ctx)
	if err != nil {
		obs.err = err
		return
	}
	// The runs that pip-install start first: they take longest.
	slices.SortStableFunc(scs, func(a, b *tkScenario) int { return cmpBool(b.pip(), a.pip()) })
	var wg sync.WaitGroup
	for _, sc := range scs {
		run := &tkRun{sc: sc}
		obs.runs[sc.name] = run
		wg.Go(func() { r.runToolkitScenario(ctx, run, imageEnv) })
	}
	wg.Wait()
}

// imageEnv is the image's configured environment.
func (r *runner) imageEnv(ctx context.Context) (map[string]string, error) {
	ins, err := r.e.Client().ImageInspect(ctx, r.o.image.Ref)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", r.o.image.Ref, err)
	}
	env := map[string]string{}
	if ins.Config != nil {
		for _, kv := range ins.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return env, nil
}

func (r *runner) runToolkitScenario(ctx context.Context, run *tkRun, imageEnv map[string]string) {
	sc := run.sc
	base := filepath.Join(r.dir, "toolkit-"+sc.name)
	run.tkCodeDir = filepath.Join(base, "code")
	if err := tkWriteCode(run.tkCodeDir, sc.code); err != nil {
		run.err = err
		return
	}
	env := maps.Clone(sc.env)
	// No __pycache__ owned by the container's root in the code directory,
	// which a suite run by another user could not remove.
	env["PYTHONDONTWRITEBYTECODE"] = "1"
	imagePath := imageEnv["PATH"]
	if imagePath == "" {
		imagePath = tkDefaultPath
	}
	if sc.gpus >= 0 {
		env["PATH"] = tkCodeDir + "/bin:" + imagePath
	}
	if sc.name == scModule {
		// The toolkit imports the module in its own process: put the code
		// directory on its path (the launcher's own path setting aside).
		pp := tkCodeDir
		if old := imageEnv["PYTHONPATH"]; old != "" {
			pp += ":" + old
		}
		env["PYTHONPATH"] = pp
	}
	l := optml.Layout{Hyperparameters: sc.hps, Channels: sc.channels}
	job := platform.TrainingJob{
		Image:            r.o.image.Ref,
		Name:             "sagekit-conformance-" + r.opts.runID + "-tk-" + sc.name,
		Layout:           l,
		Env:              env,
		CodeDir:          run.tkCodeDir,
		NetworkIsolation: sc.isolated,
		StopGrace:        r.opts.windows.TrainingGrace,
		MaxRuntime:       r.opts.windows.TrainingTimeout,
		Dir:              filepath.Join(base, "job"),
	}
	if sc.noInterface {
		job.Resource = func(rc *optml.ResourceConfig) { rc.NetworkInterfaceName = "" }
	}
	tr, err := r.e.Train(ctx, job)
	if err != nil {
		run.err = err
		return
	}
	if len(tr.Hosts) == 0 {
		run.err = errors.New("no host ran")
		return
	}
	run.host = tr.Hosts[0]
	run.records = tkReadRecords(run.host.Paths.OutputData())
	run.codeModes = fileModes(run.tkCodeDir)
	run.successSize = -1
	if fi, err := os.Stat(run.host.Paths.Success()); err == nil {
		run.successSize = fi.Size()
	}

	// What the toolkit computes for this run, from the files as laid out
	// and the container's environment before the toolkit runs.
	lookupEnv := maps.Clone(imageEnv)
	lookupEnv[optml.EnvTrainingJobName] = job.Name
	lookupEnv[optml.EnvTrainingJobARN] = "arn:aws:sagemaker:local:000000000000:training-job/" + job.Name
	maps.Copy(lookupEnv, env)
	cfg, err := toolkit.ReadConfig(run.host.Paths)
	if err != nil {
		run.wantErr = err
		return
	}
	sys := toolkit.System{NumGPUs: max(sc.gpus, 0)}
	for _, rec := range run.records {
		sys.NumCPUs = rec.CPUCount
		sys.SMDDPRun = rec.Which["smddprun"] != nil
		sys.SMDDPMPRun = rec.Which["smddpmprun"] != nil
		break
	}
	if sc.gpus > 0 {
		sys.NumGPUs = toolkit.CountGPUs([]byte(tkGpuListing))
	}
	lookup := func(k string) (string, bool) { v, ok := lookupEnv[k]; return v, ok }
	run.want, run.wantErr = toolkit.New(optml.At(optml.DefaultRoot), cfg, sys, lookup)
}

// tkGpuListing is the output of the fake nvidia-smi.
const tkGpuListing = "GPU 0: Sagekit Probe (UUID: GPU-00000000-0000-0000-0000-000000000000)\nGPU 1: Sagekit Probe (UUID: GPU-00000000-0000-0000-0000-000000000001)\nNo devices were found beyond these\n"

func tkWriteCode(dir string, files map[string]tkFile) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("writing the probe code: %w", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("writing the probe code: %w", err)
	}
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing the probe code: %w", err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return fmt.Errorf("writing the probe code: %w", err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // umask aside
			return fmt.Errorf("writing the probe code: %w", err)
		}
	}
	return nil
}

func tkReadRecords(dir string) map[string]*tkProbeRecord {
	out := map[string]*tkProbeRecord{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var rec tkProbeRecord
		if json.Unmarshal(b, &rec) == nil {
			out[name] = &rec
		}
	}
	return out
}

func tkSortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
