package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sagekit/sagekit/runtime/toolkit"
)

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

// Every T-TR rule reads the toolkit training play, and an image whose train
// cannot start fails C-TR-01, not every rule here.
var (
	tkTrainPlays = []play{playToolkitTraining}
	tkTrainDeps  = []string{"C-TR-01"}
)

const (
	toolkitHintTail = " With sagekit-runtime as the ENTRYPOINT, set ENV SAGEKIT_TOOLKIT=training (docs/launcher.md)."
	howTkTrain      = "Toolkit training runs (docs/conformance.md, \"Training toolkit (T-TR)\"): "
)

func tkFirst(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// userScriptFailurePrefix is how the toolkit's failure file begins when the
// script exits 3.
const userScriptFailurePrefix = "ExecuteUserScriptError:\nExitCode 3"
