package conformance

import (
	"fmt"
	"slices"
	"strings"
)

// Claim is a capability an image declares, which makes the rules about it
// apply.
type Claim string

// Claims, each read from an image label (or forced by an option).
const (
	ClaimNone             Claim = ""
	ClaimBindToPort       Claim = "accept-bind-to-port"
	ClaimMultiModel       Claim = "multi-models"
	ClaimBidiStreaming    Claim = "bidirectional-streaming"
	ClaimToolkitTraining  Claim = "toolkit-training"
	ClaimToolkitInference Claim = "toolkit-inference"
)

// LabelToolkit is the label by which an image claims compatibility with the
// SageMaker training and/or inference toolkits: "training", "inference" or
// "training,inference". WithToolkit claims the same from the outside.
const LabelToolkit = "dev.sagekit.toolkit"

// Profiles.
const (
	ProfileCPU = "cpu"
	ProfileGPU = "gpu"
)

// play names one way the suite exercises an image. Plays run concurrently
// where they are independent.
type play string

const (
	playStatic     play = "static" // image config
	playLayers     play = "layers" // file list of the image's layers
	playTrain      play = "train"  // the training job whose model hosting uses
	playFailure    play = "train-failure"
	playSigterm    play = "train-sigterm"
	playIsolated   play = "train-isolated"
	playMultiHost  play = "multi-host"
	playServe      play = "serve"
	playBind       play = "serve-bind-to-port"
	playBatch      play = "serve-batch"
	playMultiModel play = "serve-multi-model"
	playGPU        play = "gpu"
)

// Rule is one testable rule of the contract (docs/contract.md section 12).
type Rule struct {
	// ID is the rule's stable id from the contract's checklist (C-GPU-* are
	// sagekit's, from section 7).
	ID    string `json:"id"`
	Level Level  `json:"level"`
	// Section is the heading of the checklist section the rule belongs to.
	Section string `json:"section"`
	// Description is the rule in one line.
	Description string `json:"description"`
	// Hint says how to fix an image that breaks the rule.
	Hint string `json:"hint"`
	// How says how the suite checks it.
	How string `json:"how"`
	// Advice, when set, is why the rule cannot be observed from outside the
	// container; such a rule is listed, never checked.
	Advice string `json:"advice,omitempty"`
	// Profile is "gpu" for rules of the gpu profile only.
	Profile string `json:"profile,omitempty"`
	// Claim, when set, makes the rule apply only to images that claim it.
	Claim Claim `json:"claim,omitempty"`

	plays []play
	deps  []string
	check func(*observations) outcome
	// evidence, when set, is judged when a rule in deps failed or was
	// skipped: a violation the plays observed directly fails the rule even
	// so (ok true); otherwise the rule is skipped as usual.
	evidence func(*observations) (oc outcome, ok bool)
}

type outcome struct {
	status Status
	msg    string
	// fix replaces the rule's Hint when this failure has a cause the
	// generic hint does not name.
	fix string
}

// failureFileEvidence fails C-TR-04 on any run that exited non-zero
// without a reason in /opt/ml/output/failure.
func failureFileEvidence(o *observations) (outcome, bool) {
	if bad := o.failedWithoutReason(); len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; ")), true
	}
	return outcome{}, false
}

// missingContentType names the /invocations answers without a Content-Type.
func missingContentType(s *serveObs) []string {
	if s == nil {
		return nil
	}
	var missing []string
	for _, iv := range s.invocations() {
		if iv.err == nil && iv.contentType == "" {
			missing = append(missing, fmt.Sprintf("%s (%d)", iv.name, iv.status))
		}
	}
	return missing
}

func pass(f string, a ...any) outcome { return outcome{status: StatusPass, msg: fmt.Sprintf(f, a...)} }
func fail(f string, a ...any) outcome { return outcome{status: StatusFail, msg: fmt.Sprintf(f, a...)} }
func skip(f string, a ...any) outcome { return outcome{status: StatusSkip, msg: fmt.Sprintf(f, a...)} }

// withFix sets the fix line of a failure.
func (oc outcome) withFix(fix string) outcome { oc.fix = fix; return oc }

// fixTraining is the fix of a sample training job that failed.
const fixTraining = "Training failed on the suite's job: the failure above says why. Without --data the job has the channel `training` holding the sample payload's rows with a label in column 0 (class-0, class-1, class-2); make the program succeed on that, or pass --data CHANNEL=DIR (and --hyperparameter K=V) with a job it accepts."

// noImageFiles is the check of a rule that fails when the image ships any of
// the files pick selects from its layers.
func noImageFiles(pick func(fileFacts) []string, found, none string) func(*observations) outcome {
	return func(o *observations) outcome {
		if o.layersErr != nil {
			return skip("could not list the image's files: %v", o.layersErr)
		}
		if files := pick(o.files); len(files) > 0 {
			return fail("%s %s", found, strings.Join(firstN(files, 5), ", "))
		}
		return pass("%s", none)
	}
}
func na(f string, a ...any) outcome { return outcome{status: StatusNA, msg: fmt.Sprintf(f, a...)} }

// Rules returns every rule, in checklist order.
func Rules() []Rule { return slices.Clone(rules) }

var ruleIndex = func() map[string]*Rule {
	m := map[string]*Rule{}
	for i := range rules {
		m[rules[i].ID] = &rules[i]
	}
	return m
}()

// ruleSection is one section of the contract's checklist: its heading in
// docs/conformance.md and its rules, in checklist order.
type ruleSection struct {
	title string
	rules []Rule
}

// sections are the checklist's sections in order; each is declared in a
// file of its own (rules_*.go).
var sections = []*ruleSection{
	&trainingRules,
	&gpuRules,
	&toolkitTrainingRules,
	&inferenceRules,
	&toolkitInferenceRules,
	&batchRules,
	&multiModelRules,
	&imageRules,
}

// rules is every rule in checklist order, each with its Section set.
var rules = func() []Rule {
	var all []Rule
	for _, s := range sections {
		for _, r := range s.rules {
			r.Section = s.title
			all = append(all, r)
		}
	}
	return all
}()
