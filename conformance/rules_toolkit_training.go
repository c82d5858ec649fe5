package conformance

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/hyperparam"
)

// toolkitTrainingRules are the rules of contract section 12.3, the training
// toolkit's behaviour, for images that claim it.
var toolkitTrainingRules = ruleSection{
	title: "Training toolkit compatibility (T-TR)",
	rules: []Rule{
		{
			ID: "T-TR-01", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "Entry point = env SAGEMAKER_PROGRAM, else hyperparameter sagemaker_program (JSON-decoded)",
			Hint:        "Take the program from $SAGEMAKER_PROGRAM when it is set and not empty, else from the sagemaker_program hyperparameter after json.loads (the Python SDK writes \"\\\"train.py\\\"\"); look for it in /opt/ml/code." + toolkitHintTail,
			How:         howTkTrain + "The env run sets SAGEMAKER_PROGRAM=probe.py and the hyperparameter sagemaker_program=\"other.py\": probe.py must run, other.py not. The hyperparameter run sets SAGEMAKER_PROGRAM empty and sagemaker_program=\"\\\"probe.py\\\"\": probe.py must run.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-02", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "Code dir = hyperparameter sagemaker_submit_directory or /opt/ml/code; an s3:// tar.gz is extracted there only if /opt/ml/code is empty",
			Hint:        "When /opt/ml/code is empty, fill it from sagemaker_submit_directory (extract a tar.gz, copy a directory); when it holds files, use them and download nothing. SM_MODULE_DIR is the hyperparameter's value." + toolkitHintTail,
			How:         howTkTrain + "A run names a local sourcedir.tar.gz (holding probe.py) in sagemaker_submit_directory with /opt/ml/code empty: it must be extracted into /opt/ml/code and probe.py run from there. A run with no network names an s3:// URI with probe.py already in /opt/ml/code: it must run probe.py without downloading. Both check SM_MODULE_DIR.",
			check: func(o *observations) outcome {
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
						if _, ok := run.codeModes["probe.py"]; !ok {
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
			},
		},
		{
			ID: "T-TR-03", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "Each hyperparameter value is JSON-decoded when it can be; otherwise the raw string is kept",
			Hint:        "Decode every hyperparameter value with json.loads and keep the raw string when that fails (\"3\" → 3, \"\\\"iris\\\"\" → iris, \"pure_nccl\" stays); SM_HP_<KEY> is the decoded value (strings as-is, others as compact JSON) and SM_HPS the decoded object." + toolkitHintTail,
			How:         howTkTrain + "The env run's user hyperparameters cover ints, floats, booleans, null, lists, objects, JSON strings and raw strings; SM_HP_<KEY> and SM_HPS must hold the decoded values.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-04", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "Reserved keys (list in §1.8.2) and any sagemaker_* key are excluded from user args, SM_HPS and SM_HP_*",
			Hint:        "Leave sagemaker_program, sagemaker_submit_directory, sagemaker_region, sagemaker_job_name, sagemaker_container_log_level, sagemaker_enable_cloudwatch_metrics, sagemaker_s3_output, default_user_module_name, _tuning_objective_metric and every other sagemaker_* key out of the program's arguments, SM_HPS and SM_HP_*." + toolkitHintTail,
			How:         howTkTrain + "The env run passes reserved keys and other sagemaker_* keys besides the user's; none may appear as an argument, in SM_HPS or as SM_HP_<KEY>.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-05", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "CLI args: keys sorted; --key (-k for 1-char keys); value = str(v) (True/False, Python list repr), dicts k=v,…",
			Hint:        "Build the arguments as mapping.to_cmd_args does: keys sorted, --key (-k for a one-letter key), each value as Python's str() of the decoded value (True/False, [64, 32], dicts as a=x,b=2, None as an empty argument); SM_USER_ARGS is the same list as JSON." + toolkitHintTail,
			How:         howTkTrain + "The env run's probe compares sys.argv[1:] and SM_USER_ARGS with the toolkit's to_cmd_args of the hyperparameters.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-06", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "`.py` → `python <entry> args`; setup.py present → `python -m <module>`; otherwise `/bin/sh -c \"./<entry> args\"` with mode 0777; cwd `/opt/ml/code`",
			Hint:        "Run a .py entry point as `python entry.py ARGS`, a code directory with setup.py as `python -m module ARGS` (after pip install .), anything else after chmod 0777 as /bin/sh -c \"./entry ARGS\" with shlex-quoted arguments; always from /opt/ml/code." + toolkitHintTail,
			How:         howTkTrain + "The env run runs probe.py; a run with setup.py runs probepkg.py, which must start as a module (__spec__ set); a run names run-probe (no extension, mode 0644), which must be made 0777 and started as ./run-probe by the shell with its arguments (quotes, $HOME, ;) intact. All three must run in /opt/ml/code.",
			check: func(o *observations) outcome {
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
				if mode, ok := run.codeModes["run-probe"]; ok && mode != 0o777 {
					d.add("run-probe has mode %#o after the run, want 0777", mode)
				}
				if rec.Cwd != tkCodeDir {
					d.add("run-probe ran in %s, want %s", rec.Cwd, tkCodeDir)
				}
				if len(rec.Argv) > 0 {
					tkCompareArgs(&d, rec.Argv[1:], want.Args)
				}
				return d.outcome(run.sc.what, "probe.py ran as `python probe.py ARGS`, probepkg as `python -m probepkg ARGS`, run-probe as /bin/sh -c \"./run-probe ARGS\" after chmod 0777, each in /opt/ml/code")
			},
		},
		{
			ID: "T-TR-07", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "Exports all SM_* variables in §1.8.4 with keys upper-cased (hyphens kept) and non-strings as compact sorted JSON",
			Hint:        "Export every variable of the toolkit's Environment.to_env_vars (SM_HOSTS, SM_CURRENT_HOST, SM_TRAINING_ENV, SM_FRAMEWORK_PARAMS, SM_USER_ENTRY_POINT, ...) plus SAGEMAKER_JOB_NAME, CURRENT_HOST and SAGEMAKER_REGION: names upper-cased with every other character kept, strings as they are, everything else as json.dumps(v, sort_keys=True, separators=(\",\", \":\"))." + toolkitHintTail,
			How:         howTkTrain + "The env run's probe compares its environment with the toolkit's to_env_vars, except the variables other T-TR rules judge (SM_HP_*, SM_HPS, SM_USER_ARGS, SM_CHANNEL_*, SM_NUM_GPUS, SM_OUTPUT_DATA_DIR, SM_MODEL_DIR, SM_NETWORK_INTERFACE_NAME, and their keys in SM_TRAINING_ENV).",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-08", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "`SM_CHANNEL_<UPPER>` = `/opt/ml/input/data/<channel>` for every channel in inputdataconfig",
			Hint:        "Export SM_CHANNEL_ and the channel name upper-cased with every other character kept (Eval-Set → SM_CHANNEL_EVAL-SET) for every channel of inputdataconfig.json, set to /opt/ml/input/data/<channel> with the name as written." + toolkitHintTail,
			How:         howTkTrain + "The env run has the channels training and Eval-Set.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-09", Level: Should, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "`SM_NUM_GPUS` = count of `GPU ` lines from `nvidia-smi --list-gpus`, 0 on error",
			Hint:        "Count the lines starting \"GPU \" in the output of nvidia-smi --list-gpus, and use 0 when it fails or is missing." + toolkitHintTail,
			How:         howTkTrain + "The env run puts an nvidia-smi on PATH that lists two GPUs (and one other line); the hyperparameter run one that lists them and exits 9.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-10", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "`SM_OUTPUT_DATA_DIR=/opt/ml/output/data`; `SM_MODEL_DIR=/opt/ml/model`; `SM_NETWORK_INTERFACE_NAME` defaults to `eth0`",
			Hint:        "Set SM_OUTPUT_DATA_DIR=/opt/ml/output/data (no host suffix), SM_MODEL_DIR=/opt/ml/model, and SM_NETWORK_INTERFACE_NAME from resourceconfig.json, eth0 when the key is missing." + toolkitHintTail,
			How:         howTkTrain + "The env run's resourceconfig.json has no network_interface_name.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-11", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "User script failure → failure file `ExecuteUserScriptError:\\nExitCode <rc>…` and toolkit exit code 1",
			Hint:        "When the user program exits non-zero, write /opt/ml/output/failure as \"ExecuteUserScriptError:\\nExitCode <rc>\\nErrorMessage \\\"<stderr>\\\"\\nCommand \\\"<cmd>\\\"\" (unless the program wrote one) and exit 1, whatever the program's own code." + toolkitHintTail,
			How:         howTkTrain + "A run's fail.py prints a line on stderr and exits 3.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-12", Level: Must, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "A failure file already present is never overwritten",
			Hint:        "Write /opt/ml/output/failure only when it does not exist yet: the program's own reason wins." + toolkitHintTail,
			How:         howTkTrain + "A run's own-failure.py writes its own /opt/ml/output/failure and exits 2; the file must hold exactly that afterwards.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-13", Level: Should, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "Success writes an empty `/opt/ml/output/success` and exits 0",
			Hint:        "After the program exits 0, create an empty /opt/ml/output/success and exit 0." + toolkitHintTail,
			How:         howTkTrain + "The env run's probe.py exits 0.",
			check: func(o *observations) outcome {
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
				switch {
				case run.successSize < 0:
					d.add("no /opt/ml/output/success")
				case run.successSize != 0:
					d.add("/opt/ml/output/success holds %d bytes, want it empty", run.successSize)
				}
				return d.outcome(run.sc.what, "exited 0 and left an empty /opt/ml/output/success")
			},
		},
		{
			ID: "T-TR-14", Level: Should, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "`requirements.txt` in the code dir is pip-installed before the script runs",
			Hint:        "Before a .py entry point runs, install /opt/ml/code/requirements.txt with `python -m pip install -r requirements.txt` from /opt/ml/code (Debian's pip needs PIP_BREAK_SYSTEM_PACKAGES=1 for the system Python)." + toolkitHintTail,
			How:         howTkTrain + "A run without network has requirements.txt naming " + probeDepName + " with --no-index --find-links /opt/ml/code/wheels (a wheel the suite makes); req.py imports it.",
			check: func(o *observations) outcome {
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
			},
		},
		{
			ID: "T-TR-15", Level: Should, Claim: ClaimToolkitTraining, plays: tkTrainPlays, deps: tkTrainDeps,
			Description: "`SAGEMAKER_TRAINING_MODULE=<mod>:<fn>` replaces user-script execution with that function",
			Hint:        "When SAGEMAKER_TRAINING_MODULE is set, import its module and call its function instead of running the user entry point (the framework's function runs the user code itself)." + toolkitHintTail,
			How:         howTkTrain + "A run sets SAGEMAKER_TRAINING_MODULE=" + frameworkEntry + " (a module in /opt/ml/code, which is on PYTHONPATH) and SAGEMAKER_PROGRAM=probe.py: the function must run, probe.py not, and the run exit 0.",
			check: func(o *observations) outcome {
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
			},
		},
	},
}
