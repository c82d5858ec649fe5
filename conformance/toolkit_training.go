package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/hyperparam"
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

// --- judging ---

// tkRunOf returns the run of scenario name, or why it cannot be judged.
func (o *observations) tkRunOf(name string) (*tkRun, *outcome) {
	t := o.tkTrain
	if t == nil {
		oc := skip("the toolkit training runs did not happen")
		return nil, &oc
	}
	if t.err != nil {
		oc := fail("the toolkit training runs could not be made: %v", t.err)
		return nil, &oc
	}
	run := t.runs[name]
	switch {
	case run == nil:
		oc := skip("the %s run did not happen", name)
		return nil, &oc
	case run.err != nil:
		oc := skip("the run with %s could not be made: %v", run.sc.what, run.err)
		return nil, &oc
	case run.host.StartErr != nil:
		oc := skip("the run with %s could not start: %v", run.sc.what, run.host.StartErr)
		return nil, &oc
	}
	return run, nil
}

// ended says how a run ended, for messages.
func (run *tkRun) ended() string {
	h := run.host
	s := fmt.Sprintf("exited %d", h.ExitCode)
	if f := strings.TrimSpace(h.Failure); f != "" {
		// The toolkit's own first line ("ExecuteUserScriptError:") says
		// little: quote the lines after it too.
		lines := strings.Split(f, "\n")
		if len(lines) > 3 {
			lines = lines[:3]
		}
		return s + "; failure: " + string(truncate([]byte(strings.Join(lines, " | ")), 300))
	}
	return s + logTail(h.Logs)
}

// record returns the record the probe name wrote in run, or an outcome
// saying it is missing (a fail when missing is the rule's own failure,
// else a skip pointing at the rule that judges it).
func (run *tkRun) record(name string, own bool, owner string) (*tkProbeRecord, *outcome) {
	if rec := run.records[name]; rec != nil {
		return rec, nil
	}
	var oc outcome
	if own {
		oc = fail("with %s, %s.py did not run: %s", run.sc.what, name, run.ended())
	} else {
		oc = skip("with %s, %s.py did not run (%s): %s judges that", run.sc.what, name, run.ended(), owner)
	}
	return nil, &oc
}

// wanted returns the toolkit's environment for run, or a skip.
func (run *tkRun) wanted() (*toolkit.Environment, *outcome) {
	if run.wantErr != nil || run.want == nil {
		oc := skip("could not compute the toolkit's environment for the run with %s: %v", run.sc.what, run.wantErr)
		return nil, &oc
	}
	return run.want, nil
}

// probed gets the probe record and the expected environment of a scenario.
func (o *observations) probed(sc, probe, owner string) (*tkRun, *tkProbeRecord, *toolkit.Environment, *outcome) {
	run, oc := o.tkRunOf(sc)
	if oc != nil {
		return nil, nil, nil, oc
	}
	rec, oc := run.record(probe, false, owner)
	if oc != nil {
		return nil, nil, nil, oc
	}
	want, oc := run.wanted()
	if oc != nil {
		return nil, nil, nil, oc
	}
	return run, rec, want, nil
}

func tkVarValue(vars []toolkit.Var, name string) (string, bool) {
	for _, v := range vars {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// tkDiffs collects want/got differences, reported a few at a time.
type tkDiffs []string

func (d *tkDiffs) add(f string, a ...any) { *d = append(*d, fmt.Sprintf(f, a...)) }

func (d tkDiffs) outcome(context, passMsg string) outcome {
	if len(d) == 0 {
		return pass("%s", passMsg)
	}
	return fail("with %s: %s", context, strings.Join(firstN(d, 4), "; "))
}

// tkCompareVar adds a difference when the probe's environment does not hold
// name=want.
func tkCompareVar(d *tkDiffs, env map[string]string, name, want string) {
	got, ok := env[name]
	switch {
	case !ok:
		d.add("%s is not set, want %q", name, want)
	case got != want:
		d.add("%s=%q, want %q", name, got, want)
	}
}

// tkOwnedElsewhere are the SM_* variables (and SM_TRAINING_ENV keys) that
// rules other than T-TR-07 judge.
func tkOwnedElsewhere(name string) bool {
	switch name {
	case "SM_HPS", "SM_USER_ARGS", "SM_NUM_GPUS", "SM_OUTPUT_DATA_DIR", "SM_MODEL_DIR", "SM_NETWORK_INTERFACE_NAME":
		return true
	}
	return strings.HasPrefix(name, "SM_HP_") || strings.HasPrefix(name, "SM_CHANNEL_")
}

var trainingEnvOwned = []string{"hyperparameters", "channel_input_dirs", "num_gpus", "output_data_dir", "model_dir", "network_interface_name"}

func tkCompareArgs(d *tkDiffs, got, want []string) {
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			d.add("argv ends after %d arguments, want %q next (want %s)", len(got), want[i], tkQuoteArgs(want))
			return
		case i >= len(want):
			d.add("argv has %q after the %d expected arguments (want %s)", got[i], len(want), tkQuoteArgs(want))
			return
		case got[i] != want[i]:
			d.add("argument %d is %q, want %q (got %s, want %s)", i+1, got[i], want[i], tkQuoteArgs(got), tkQuoteArgs(want))
			return
		}
	}
}

func tkQuoteArgs(a []string) string {
	b, _ := json.Marshal(a)
	return string(b)
}

const (
	toolkitHintTail = " With sagekit-runtime as the ENTRYPOINT, set ENV SAGEKIT_TOOLKIT=training (docs/launcher.md)."
	howTkTrain      = "Toolkit training runs (docs/conformance.md, \"Training toolkit (T-TR)\"): "
)

func tkRule(id string, l Level, desc, hint, how string, check func(*observations) outcome) Rule {
	return Rule{
		ID: id, Level: l, Claim: ClaimToolkitTraining, Description: desc,
		Hint:  hint + toolkitHintTail,
		How:   howTkTrain + how,
		plays: []play{playToolkitTraining},
		// An image whose train cannot start fails C-TR-01, not every rule here.
		deps:  []string{"C-TR-01"},
		check: check,
	}
}

var tTR01 = tkRule("T-TR-01", Must,
	"Entry point = env SAGEMAKER_PROGRAM, else hyperparameter sagemaker_program (JSON-decoded)",
	"Take the program from $SAGEMAKER_PROGRAM when it is set and not empty, else from the sagemaker_program hyperparameter after json.loads (the Python SDK writes \"\\\"train.py\\\"\"); look for it in /opt/ml/code.",
	"The env run sets SAGEMAKER_PROGRAM=probe.py and the hyperparameter sagemaker_program=\"other.py\": probe.py must run, other.py not. The hyperparameter run sets SAGEMAKER_PROGRAM empty and sagemaker_program=\"\\\"probe.py\\\"\": probe.py must run.",
	func(o *observations) outcome {
		run, oc := o.tkRunOf(scEnv)
		if oc != nil {
			return *oc
		}
		if _, oc := run.record("probe", true, ""); oc != nil {
			return *oc
		}
		if run.records["other"] != nil {
			return fail("with %s, other.py (the sagemaker_program hyperparameter) ran: SAGEMAKER_PROGRAM must win over the hyperparameter", run.sc.what)
		}
		run, oc = o.tkRunOf(scHyperparam)
		if oc != nil {
			return *oc
		}
		if _, oc := run.record("probe", true, ""); oc != nil {
			return *oc
		}
		return pass("SAGEMAKER_PROGRAM=probe.py ran probe.py (not the hyperparameter's other.py); with SAGEMAKER_PROGRAM empty the JSON-encoded sagemaker_program ran probe.py")
	})

var tTR02 = tkRule("T-TR-02", Must,
	"Code dir = hyperparameter sagemaker_submit_directory or /opt/ml/code; an s3:// tar.gz is extracted there only if /opt/ml/code is empty",
	"When /opt/ml/code is empty, fill it from sagemaker_submit_directory (extract a tar.gz, copy a directory); when it holds files, use them and download nothing. SM_MODULE_DIR is the hyperparameter's value.",
	"A run names a local sourcedir.tar.gz (holding probe.py) in sagemaker_submit_directory with /opt/ml/code empty: it must be extracted into /opt/ml/code and probe.py run from there. A run with no network names an s3:// URI with probe.py already in /opt/ml/code: it must run probe.py without downloading. Both check SM_MODULE_DIR.",
	func(o *observations) outcome {
		for _, sc := range []string{scSubmitTar, scSubmitS3} {
			run, oc := o.tkRunOf(sc)
			if oc != nil {
				return *oc
			}
			rec, oc := run.record("probe", true, "")
			if oc != nil {
				return *oc
			}
			want, oc := run.wanted()
			if oc != nil {
				return *oc
			}
			var d tkDiffs
			if sc == scSubmitTar {
				if _, err := os.Stat(filepath.Join(run.tkCodeDir, "probe.py")); err != nil {
					d.add("probe.py from the tarball is not in /opt/ml/code after the run")
				}
			}
			if w, ok := tkVarValue(want.Vars, "SM_MODULE_DIR"); ok {
				tkCompareVar(&d, rec.Environ, "SM_MODULE_DIR", w)
			}
			if run.host.ExitCode != 0 {
				d.add("exited %d after the probe ran", run.host.ExitCode)
			}
			if oc := d.outcome(run.sc.what, ""); oc.status == StatusFail {
				return oc
			}
		}
		return pass("a local sourcedir.tar.gz was extracted into the empty /opt/ml/code and run; with code present, the s3:// URI was not fetched; SM_MODULE_DIR named each")
	})

var tTR03 = tkRule("T-TR-03", Must,
	"Each hyperparameter value is JSON-decoded when it can be; otherwise the raw string is kept",
	"Decode every hyperparameter value with json.loads and keep the raw string when that fails (\"3\" → 3, \"\\\"iris\\\"\" → iris, \"pure_nccl\" stays); SM_HP_<KEY> is the decoded value (strings as-is, others as compact JSON) and SM_HPS the decoded object.",
	"The env run's user hyperparameters cover ints, floats, booleans, null, lists, objects, JSON strings and raw strings; SM_HP_<KEY> and SM_HPS must hold the decoded values.",
	func(o *observations) outcome {
		run, rec, want, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		for _, m := range want.Hyperparameters {
			name := "SM_HP_" + strings.ToUpper(m.Key)
			if w, ok := tkVarValue(want.Vars, name); ok {
				tkCompareVar(&d, rec.Environ, name, w)
			}
		}
		wantHPS, _ := tkVarValue(want.Vars, "SM_HPS")
		gotHPS, ok := rec.Environ["SM_HPS"]
		if !ok {
			d.add("SM_HPS is not set, want %s", wantHPS)
		} else if obj, isObj := hyperparam.Value(gotHPS).(hyperparam.Object); !isObj {
			d.add("SM_HPS=%q is not a JSON object, want %s", gotHPS, wantHPS)
		} else {
			for _, m := range want.Hyperparameters {
				g, ok := obj.Get(m.Key)
				switch {
				case !ok:
					d.add("SM_HPS lacks %q, want %s", m.Key, toolkit.JSON(m.Value))
				case toolkit.JSON(g) != toolkit.JSON(m.Value):
					d.add("SM_HPS[%q] = %s, want %s", m.Key, toolkit.JSON(g), toolkit.JSON(m.Value))
				}
			}
		}
		return d.outcome(run.sc.what, fmt.Sprintf("%d hyperparameters decoded as json.loads does (SM_HPS=%s)", len(want.Hyperparameters), wantHPS))
	})

var tTR04 = tkRule("T-TR-04", Must,
	"Reserved keys (list in §1.8.2) and any sagemaker_* key are excluded from user args, SM_HPS and SM_HP_*",
	"Leave sagemaker_program, sagemaker_submit_directory, sagemaker_region, sagemaker_job_name, sagemaker_container_log_level, sagemaker_enable_cloudwatch_metrics, sagemaker_s3_output, default_user_module_name, _tuning_objective_metric and every other sagemaker_* key out of the program's arguments, SM_HPS and SM_HP_*.",
	"The env run passes reserved keys and other sagemaker_* keys besides the user's; none may appear as an argument, in SM_HPS or as SM_HP_<KEY>.",
	func(o *observations) outcome {
		run, rec, want, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		var reserved []string
		for _, m := range want.SageMaker {
			reserved = append(reserved, m.Key)
		}
		for _, k := range reserved {
			flag := "--" + k
			if len([]rune(k)) == 1 {
				flag = "-" + k
			}
			if len(rec.Argv) > 1 && slices.Contains(rec.Argv[1:], flag) {
				d.add("argv holds %s", flag)
			}
			if _, ok := rec.Environ["SM_HP_"+strings.ToUpper(k)]; ok {
				d.add("SM_HP_%s is set", strings.ToUpper(k))
			}
		}
		if obj, ok := hyperparam.Value(rec.Environ["SM_HPS"]).(hyperparam.Object); ok {
			for _, k := range reserved {
				if _, ok := obj.Get(k); ok {
					d.add("SM_HPS holds %q", k)
				}
			}
		}
		for name := range rec.Environ {
			if k, ok := strings.CutPrefix(name, "SM_HP_"); ok && strings.HasPrefix(k, "SAGEMAKER_") && !slices.Contains(reserved, strings.ToLower(k)) {
				d.add("%s is set", name)
			}
		}
		slices.Sort(d)
		return d.outcome(run.sc.what, fmt.Sprintf("none of %s reached argv, SM_HPS or SM_HP_*", strings.Join(reserved, ", ")))
	})

var tTR05 = tkRule("T-TR-05", Must,
	"CLI args: keys sorted; --key (-k for 1-char keys); value = str(v) (True/False, Python list repr), dicts k=v,…",
	"Build the arguments as mapping.to_cmd_args does: keys sorted, --key (-k for a one-letter key), each value as Python's str() of the decoded value (True/False, [64, 32], dicts as a=x,b=2, None as an empty argument); SM_USER_ARGS is the same list as JSON.",
	"The env run's probe compares sys.argv[1:] and SM_USER_ARGS with the toolkit's to_cmd_args of the hyperparameters.",
	func(o *observations) outcome {
		run, rec, want, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		var got []string
		if len(rec.Argv) > 0 {
			got = rec.Argv[1:]
		}
		tkCompareArgs(&d, got, want.Args)
		if w, ok := tkVarValue(want.Vars, "SM_USER_ARGS"); ok {
			tkCompareVar(&d, rec.Environ, "SM_USER_ARGS", w)
		}
		return d.outcome(run.sc.what, "argv "+tkQuoteArgs(want.Args))
	})

var tTR06 = tkRule("T-TR-06", Must,
	"`.py` → `python <entry> args`; setup.py present → `python -m <module>`; otherwise `/bin/sh -c \"./<entry> args\"` with mode 0777; cwd `/opt/ml/code`",
	"Run a .py entry point as `python entry.py ARGS`, a code directory with setup.py as `python -m module ARGS` (after pip install .), anything else after chmod 0777 as /bin/sh -c \"./entry ARGS\" with shlex-quoted arguments; always from /opt/ml/code.",
	"The env run runs probe.py; a run with setup.py runs probepkg.py, which must start as a module (__spec__ set); a run names run-probe (no extension, mode 0644), which must be made 0777 and started as ./run-probe by the shell with its arguments (quotes, $HOME, ;) intact. All three must run in /opt/ml/code.",
	func(o *observations) outcome {
		// .py program.
		run, rec, _, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		if rec.Cwd != tkCodeDir {
			d.add("probe.py ran in %s, want %s", rec.Cwd, tkCodeDir)
		}
		if rec.Spec != nil {
			d.add("probe.py ran as module %q, want a script (python probe.py)", *rec.Spec)
		}
		if len(rec.Argv) == 0 || path.Join(rec.Cwd, rec.Argv[0]) != tkCodeDir+"/probe.py" {
			d.add("sys.argv[0]=%q from %s, want probe.py in %s", tkFirst(rec.Argv), rec.Cwd, tkCodeDir)
		}
		if oc := d.outcome(run.sc.what, ""); oc.status == StatusFail {
			return oc
		}
		// Package.
		run, oc = o.tkRunOf(scPackage)
		if oc != nil {
			return *oc
		}
		rec, oc = run.record("probe", true, "")
		if oc != nil {
			return *oc
		}
		want, oc := run.wanted()
		if oc != nil {
			return *oc
		}
		switch {
		case rec.Spec == nil:
			d.add("probepkg.py ran as a script, want python -m probepkg")
		case *rec.Spec != "probepkg":
			d.add("ran module %q, want probepkg", *rec.Spec)
		}
		if rec.Cwd != tkCodeDir {
			d.add("probepkg ran in %s, want %s", rec.Cwd, tkCodeDir)
		}
		if len(rec.Argv) > 0 {
			tkCompareArgs(&d, rec.Argv[1:], want.Args)
		}
		if oc := d.outcome(run.sc.what, ""); oc.status == StatusFail {
			return oc
		}
		// Command.
		run, oc = o.tkRunOf(scCommand)
		if oc != nil {
			return *oc
		}
		rec, oc = run.record("probe", true, "")
		if oc != nil {
			return *oc
		}
		want, oc = run.wanted()
		if oc != nil {
			return *oc
		}
		if argv0 := rec.Environ["SAGEKIT_PROBE_ARGV0"]; argv0 != "./run-probe" {
			d.add("the shell started run-probe as %q, want ./run-probe (/bin/sh -c \"./run-probe ARGS\")", argv0)
		}
		if fi, err := os.Stat(filepath.Join(run.tkCodeDir, "run-probe")); err == nil && fi.Mode().Perm() != 0o777 {
			d.add("run-probe has mode %#o after the run, want 0777", fi.Mode().Perm())
		}
		if rec.Cwd != tkCodeDir {
			d.add("run-probe ran in %s, want %s", rec.Cwd, tkCodeDir)
		}
		if len(rec.Argv) > 0 {
			tkCompareArgs(&d, rec.Argv[1:], want.Args)
		}
		return d.outcome(run.sc.what, "probe.py ran as `python probe.py ARGS`, probepkg as `python -m probepkg ARGS`, run-probe as /bin/sh -c \"./run-probe ARGS\" after chmod 0777, each in /opt/ml/code")
	})

func tkFirst(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

var tTR07 = tkRule("T-TR-07", Must,
	"Exports all SM_* variables in §1.8.4 with keys upper-cased (hyphens kept) and non-strings as compact sorted JSON",
	"Export every variable of the toolkit's Environment.to_env_vars (SM_HOSTS, SM_CURRENT_HOST, SM_TRAINING_ENV, SM_FRAMEWORK_PARAMS, SM_USER_ENTRY_POINT, ...) plus SAGEMAKER_JOB_NAME, CURRENT_HOST and SAGEMAKER_REGION: names upper-cased with every other character kept, strings as they are, everything else as json.dumps(v, sort_keys=True, separators=(\",\", \":\")).",
	"The env run's probe compares its environment with the toolkit's to_env_vars, except the variables other T-TR rules judge (SM_HP_*, SM_HPS, SM_USER_ARGS, SM_CHANNEL_*, SM_NUM_GPUS, SM_OUTPUT_DATA_DIR, SM_MODEL_DIR, SM_NETWORK_INTERFACE_NAME, and their keys in SM_TRAINING_ENV).",
	func(o *observations) outcome {
		run, rec, want, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		n := 0
		for _, v := range slices.Concat(want.Vars, want.ProcessVars) {
			if tkOwnedElsewhere(v.Name) {
				continue
			}
			n++
			if v.Name != "SM_TRAINING_ENV" {
				tkCompareVar(&d, rec.Environ, v.Name, v.Value)
				continue
			}
			got, ok := rec.Environ[v.Name]
			if !ok {
				d.add("SM_TRAINING_ENV is not set")
				continue
			}
			g, gok := hyperparam.Value(got).(hyperparam.Object)
			w, _ := hyperparam.Value(v.Value).(hyperparam.Object)
			if !gok {
				d.add("SM_TRAINING_ENV=%q is not a JSON object", string(truncate([]byte(got), 80)))
				continue
			}
			for _, m := range w {
				if slices.Contains(trainingEnvOwned, m.Key) {
					continue
				}
				gv, ok := g.Get(m.Key)
				switch {
				case !ok:
					d.add("SM_TRAINING_ENV lacks %q (want %s)", m.Key, toolkit.JSON(m.Value))
				case toolkit.JSON(gv) != toolkit.JSON(m.Value):
					d.add("SM_TRAINING_ENV[%q] = %s, want %s", m.Key, toolkit.JSON(gv), toolkit.JSON(m.Value))
				}
			}
		}
		return d.outcome(run.sc.what, fmt.Sprintf("%d variables as the toolkit exports them", n))
	})

var tTR08 = tkRule("T-TR-08", Must,
	"`SM_CHANNEL_<UPPER>` = `/opt/ml/input/data/<channel>` for every channel in inputdataconfig",
	"Export SM_CHANNEL_ and the channel name upper-cased with every other character kept (Eval-Set → SM_CHANNEL_EVAL-SET) for every channel of inputdataconfig.json, set to /opt/ml/input/data/<channel> with the name as written.",
	"The env run has the channels training and Eval-Set.",
	func(o *observations) outcome {
		run, rec, want, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		var names []string
		for _, v := range want.Vars {
			if strings.HasPrefix(v.Name, "SM_CHANNEL_") {
				tkCompareVar(&d, rec.Environ, v.Name, v.Value)
				names = append(names, v.Name)
			}
		}
		return d.outcome(run.sc.what, strings.Join(names, ", ")+" as the toolkit sets them")
	})

var tTR09 = tkRule("T-TR-09", Should,
	"`SM_NUM_GPUS` = count of `GPU ` lines from `nvidia-smi --list-gpus`, 0 on error",
	"Count the lines starting \"GPU \" in the output of nvidia-smi --list-gpus, and use 0 when it fails or is missing.",
	"The env run puts an nvidia-smi on PATH that lists two GPUs (and one other line); the hyperparameter run one that lists them and exits 9.",
	func(o *observations) outcome {
		var parts []string
		for _, sc := range []string{scEnv, scHyperparam} {
			run, rec, want, oc := o.probed(sc, "probe", "T-TR-01")
			if oc != nil {
				return *oc
			}
			var d tkDiffs
			w, _ := tkVarValue(want.Vars, "SM_NUM_GPUS")
			tkCompareVar(&d, rec.Environ, "SM_NUM_GPUS", w)
			what := "an nvidia-smi listing two GPUs"
			if run.sc.gpus == 0 {
				what = "an nvidia-smi that lists two GPUs and exits 9"
			}
			if oc := d.outcome(what, ""); oc.status == StatusFail {
				return oc
			}
			parts = append(parts, fmt.Sprintf("SM_NUM_GPUS=%s with %s", w, what))
		}
		return pass("%s", strings.Join(parts, "; "))
	})

var tTR10 = tkRule("T-TR-10", Must,
	"`SM_OUTPUT_DATA_DIR=/opt/ml/output/data`; `SM_MODEL_DIR=/opt/ml/model`; `SM_NETWORK_INTERFACE_NAME` defaults to `eth0`",
	"Set SM_OUTPUT_DATA_DIR=/opt/ml/output/data (no host suffix), SM_MODEL_DIR=/opt/ml/model, and SM_NETWORK_INTERFACE_NAME from resourceconfig.json, eth0 when the key is missing.",
	"The env run's resourceconfig.json has no network_interface_name.",
	func(o *observations) outcome {
		run, rec, want, oc := o.probed(scEnv, "probe", "T-TR-01")
		if oc != nil {
			return *oc
		}
		var d tkDiffs
		var set []string
		for _, name := range []string{"SM_OUTPUT_DATA_DIR", "SM_MODEL_DIR", "SM_NETWORK_INTERFACE_NAME"} {
			w, _ := tkVarValue(want.Vars, name)
			tkCompareVar(&d, rec.Environ, name, w)
			set = append(set, name+"="+w)
		}
		return d.outcome(run.sc.what+" (no network_interface_name in resourceconfig.json)", strings.Join(set, ", "))
	})

// userScriptFailurePrefix is how the toolkit's failure file begins when the
// script exits 3.
const userScriptFailurePrefix = "ExecuteUserScriptError:\nExitCode 3"

var tTR11 = tkRule("T-TR-11", Must,
	"User script failure → failure file `ExecuteUserScriptError:\\nExitCode <rc>…` and toolkit exit code 1",
	"When the user program exits non-zero, write /opt/ml/output/failure as \"ExecuteUserScriptError:\\nExitCode <rc>\\nErrorMessage \\\"<stderr>\\\"\\nCommand \\\"<cmd>\\\"\" (unless the program wrote one) and exit 1, whatever the program's own code.",
	"A run's fail.py prints a line on stderr and exits 3.",
	func(o *observations) outcome {
		run, oc := o.tkRunOf(scExit3)
		if oc != nil {
			return *oc
		}
		h := run.host
		var d tkDiffs
		if h.ExitCode != 1 {
			d.add("the container exited %d, want 1", h.ExitCode)
		}
		switch {
		case !h.HasFailureFile:
			d.add("no /opt/ml/output/failure, want one beginning %q", userScriptFailurePrefix)
		case !strings.HasPrefix(h.Failure, userScriptFailurePrefix):
			d.add("/opt/ml/output/failure begins %q, want %q", string(truncate([]byte(h.Failure), 80)), userScriptFailurePrefix)
		}
		return d.outcome(run.sc.what, "exited 1; failure file begins "+fmt.Sprintf("%q", userScriptFailurePrefix))
	})

var tTR12 = tkRule("T-TR-12", Must,
	"A failure file already present is never overwritten",
	"Write /opt/ml/output/failure only when it does not exist yet: the program's own reason wins.",
	"A run's own-failure.py writes its own /opt/ml/output/failure and exits 2; the file must hold exactly that afterwards.",
	func(o *observations) outcome {
		run, oc := o.tkRunOf(scOwnFailure)
		if oc != nil {
			return *oc
		}
		h := run.host
		switch {
		case !h.HasFailureFile:
			return fail("with %s, /opt/ml/output/failure is gone after the run (%s)", run.sc.what, run.ended())
		case h.Failure != ownFailureText:
			return fail("with %s, /opt/ml/output/failure was overwritten: want %q, got %q", run.sc.what, ownFailureText, string(truncate([]byte(h.Failure), 120)))
		}
		return pass("the program's own failure reason was kept (exited %d)", h.ExitCode)
	})

var tTR13 = tkRule("T-TR-13", Should,
	"Success writes an empty `/opt/ml/output/success` and exits 0",
	"After the program exits 0, create an empty /opt/ml/output/success and exit 0.",
	"The env run's probe.py exits 0.",
	func(o *observations) outcome {
		run, oc := o.tkRunOf(scEnv)
		if oc != nil {
			return *oc
		}
		if _, oc := run.record("probe", false, "T-TR-01"); oc != nil {
			return *oc
		}
		var d tkDiffs
		h := run.host
		if h.ExitCode != 0 {
			d.add("exited %d after the program succeeded, want 0", h.ExitCode)
		}
		fi, err := os.Stat(h.Paths.Success())
		switch {
		case err != nil:
			d.add("no /opt/ml/output/success")
		case fi.Size() != 0:
			d.add("/opt/ml/output/success holds %d bytes, want it empty", fi.Size())
		}
		return d.outcome(run.sc.what, "exited 0 and left an empty /opt/ml/output/success")
	})

var tTR14 = tkRule("T-TR-14", Should,
	"`requirements.txt` in the code dir is pip-installed before the script runs",
	"Before a .py entry point runs, install /opt/ml/code/requirements.txt with `python -m pip install -r requirements.txt` from /opt/ml/code (Debian's pip needs PIP_BREAK_SYSTEM_PACKAGES=1 for the system Python).",
	"A run without network has requirements.txt naming "+probeDepName+" with --no-index --find-links /opt/ml/code/wheels (a wheel the suite makes); req.py imports it.",
	func(o *observations) outcome {
		run, oc := o.tkRunOf(scRequirements)
		if oc != nil {
			return *oc
		}
		rec, oc := run.record("req", true, "")
		if oc != nil {
			return *oc
		}
		if rec.Value != probeDepValue {
			return fail("with %s, %s.VALUE = %q, want %q", run.sc.what, probeDepModule, rec.Value, probeDepValue)
		}
		return pass("%s was installed from the code directory's wheel house before req.py ran", probeDepName)
	})

var tTR15 = tkRule("T-TR-15", Should,
	"`SAGEMAKER_TRAINING_MODULE=<mod>:<fn>` replaces user-script execution with that function",
	"When SAGEMAKER_TRAINING_MODULE is set, import its module and call its function instead of running the user entry point (the framework's function runs the user code itself).",
	"A run sets SAGEMAKER_TRAINING_MODULE="+frameworkEntry+" (a module in /opt/ml/code, which is on PYTHONPATH) and SAGEMAKER_PROGRAM=probe.py: the function must run, probe.py not, and the run exit 0.",
	func(o *observations) outcome {
		run, oc := o.tkRunOf(scModule)
		if oc != nil {
			return *oc
		}
		if run.records["framework"] == nil {
			what := "did not run"
			if run.records["probe"] != nil {
				what = "did not run; probe.py (SAGEMAKER_PROGRAM) ran instead"
			}
			return fail("with %s, %s %s: %s", run.sc.what, frameworkEntry, what, run.ended())
		}
		if run.records["probe"] != nil {
			return fail("with %s, probe.py ran besides %s: the function replaces the user script", run.sc.what, frameworkEntry)
		}
		if run.host.ExitCode != 0 {
			return fail("with %s, %s ran but the container exited %d", run.sc.what, frameworkEntry, run.host.ExitCode)
		}
		return pass("%s ran instead of probe.py; exited 0", frameworkEntry)
	})
