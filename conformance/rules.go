package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
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

var rules = []Rule{
	// 12.2 Training, container side.
	{
		ID: "C-TR-01", Level: Must,
		Description: "`docker run IMAGE train` starts training (an ENTRYPOINT handling argv[1]=train, or a `train` executable on PATH)",
		Hint:        `Use ENTRYPOINT ["/your/program"] that handles "train" as its first argument, or put an executable named train on PATH.`,
		How:         "Runs the image with CMD replaced by `train`; fails when the container cannot start or exits 126/127 (command not found or not executable).",
		plays:       []play{playTrain},
		check: func(o *observations) outcome {
			h, err := o.trainHost()
			if err != nil {
				return fail("%v", err)
			}
			if h.StartErr != nil {
				return fail("`IMAGE train` could not start: %v", h.StartErr)
			}
			if h.ExitCode == 126 || h.ExitCode == 127 {
				return fail("`IMAGE train` exited %d (command not found or not executable)%s", h.ExitCode, logTail(h.Logs))
			}
			return pass("started; exited %d after %s", h.ExitCode, h.Duration.Round(time.Millisecond))
		},
	},
	{
		ID: "C-TR-02", Level: Must,
		Description: "PID 1 is the program (exec-form ENTRYPOINT, not `sh -c`, not tini) so it receives SIGTERM",
		Hint:        `Write ENTRYPOINT in exec form (ENTRYPOINT ["/usr/local/bin/program"]); if a shell script must come first, end it with exec "$@".`,
		How:         "Reads the image config: fails on a shell-form entrypoint ([sh, -c, ...]) or on tini/dumb-init as the entrypoint.",
		plays:       []play{playStatic},
		check: func(o *observations) outcome {
			ep := o.image.Entrypoint
			if len(ep) == 0 {
				return pass("no ENTRYPOINT: `train`/`serve` from PATH run as PID 1")
			}
			base := path.Base(ep[0])
			switch base {
			case "sh", "bash", "dash", "ash", "zsh":
				if slices.Contains(ep[1:], "-c") {
					return fail("ENTRYPOINT %q is shell form: the shell is PID 1 and does not pass SIGTERM on (and drops the train/serve argument)", ep)
				}
			case "tini", "tini-static", "dumb-init":
				return fail("ENTRYPOINT %q starts with %s, which SageMaker's train/serve argument confuses", ep, base)
			}
			return pass("ENTRYPOINT %q is exec form", ep)
		},
	},
	{
		ID: "C-TR-03", Level: Must,
		Description: "Final artifacts are written under /opt/ml/model",
		Hint:        "Save the model under /opt/ml/model (SM_MODEL_DIR); only that directory becomes model.tar.gz.",
		How:         "After a successful training run, /opt/ml/model must hold at least one file.",
		plays:       []play{playTrain},
		deps:        []string{"C-TR-05"},
		check: func(o *observations) outcome {
			h, err := o.trainHost()
			if err != nil {
				return fail("%v", err)
			}
			files := listFiles(h.Paths.Model())
			if len(files) == 0 {
				return fail("training succeeded but left /opt/ml/model empty")
			}
			return pass("/opt/ml/model holds %s", strings.Join(firstN(files, 5), ", "))
		},
	},
	{
		ID: "C-TR-04", Level: Must,
		Description: "On failure it writes a human-readable reason to /opt/ml/output/failure and exits non-zero",
		Hint:        "Catch errors at the top of the training program, write the reason to /opt/ml/output/failure (first 1024 bytes become FailureReason) and exit non-zero.",
		How: "Provokes failures three ways: /opt/ml/model mounted read-only (the model cannot be saved; the run must exit non-zero), " +
			"every hyperparameter (the job's own and those the templates validate) set to a value no program accepts, and no input channel. " +
			"Every run the suite made that exited non-zero, provoked or not (the valid job too), must leave a non-empty failure file; " +
			"such a run fails the rule even when the rules it depends on failed.",
		plays:    []play{playFailure, playTrain},
		deps:     []string{"C-TR-03"},
		evidence: failureFileEvidence,
		check: func(o *observations) outcome {
			if oc, ok := failureFileEvidence(o); ok {
				return oc
			}
			if o.failure == nil || len(o.failure.Hosts) == 0 {
				return skip("the failure run did not happen: %v", o.failureErr)
			}
			h := o.failure.Hosts[0]
			switch {
			case h.StartErr != nil:
				return skip("the failure run could not start: %v", h.StartErr)
			case h.ExitCode == 0:
				return fail("exited 0 although /opt/ml/model was read-only and the model could not be saved")
			}
			var failed []string
			for _, p := range o.provoked {
				if p.tr != nil && len(p.tr.Hosts) > 0 && p.tr.Hosts[0].ExitCode != 0 {
					failed = append(failed, fmt.Sprintf("%s: exited %d, %s", p.how, p.tr.Hosts[0].ExitCode, firstLine(p.tr.Hosts[0].Failure)))
				}
			}
			return pass("every failed run wrote its reason (%s)", strings.Join(failed, "; "))
		},
	},
	{
		ID: "C-TR-05", Level: Must,
		Description: "On success it exits 0",
		Hint:        "Exit 0 when training succeeds; SageMaker marks any other exit code as Failed.",
		How:         "Runs a small valid job (channel `training` with the sample payload's rows labelled in column 0, or --data/--hyperparameter) and expects exit 0.",
		plays:       []play{playTrain},
		deps:        []string{"C-TR-01"},
		check: func(o *observations) outcome {
			h, err := o.trainHost()
			if err != nil {
				return fail("%v", err)
			}
			if h.ExitCode != 0 {
				if h.Failure != "" {
					return fail("exited %d; /opt/ml/output/failure:\n%s", h.ExitCode, failureText(h.Failure)).withFix(fixTraining)
				}
				return fail("exited %d%s", h.ExitCode, logTail(h.Logs)).withFix(fixTraining)
			}
			return pass("exited 0 after %s", h.Duration.Round(time.Millisecond))
		},
	},
	{
		ID: "C-TR-06", Level: Must,
		Description: "Hyperparameters are read as strings and converted explicitly",
		Hint:        `Parse every hyperparameter from its string form ("10" → 10).`,
		Advice:      "The conversion happens inside the program. The suite passes every hyperparameter as a string, as SageMaker does, so a program that expects JSON numbers fails C-TR-05 instead.",
	},
	{
		ID: "C-TR-07", Level: Must,
		Description: "Nothing the job needs lives under /opt/ml in the image (reserved; may be shadowed)",
		Hint:        "Install code and data outside /opt/ml (for example /opt/program); SageMaker mounts over /opt/ml.",
		How:         "Lists the files of every image layer (applying whiteouts) and fails on any file under /opt/ml.",
		plays:       []play{playLayers},
		check:       noImageFiles(func(f fileFacts) []string { return f.optML }, "the image ships", "nothing under /opt/ml"),
	},
	{
		ID: "C-TR-08", Level: Should,
		Description: "On SIGTERM it saves what it can within 120 s",
		Hint:        "Handle SIGTERM in the training program: save a checkpoint and exit before SIGKILL comes 120 s later.",
		How:         "Starts a second training run, sends SIGTERM shortly after start and expects the container to exit within the grace period (120 s) rather than be killed.",
		plays:       []play{playSigterm},
		deps:        []string{"C-TR-01"},
		check: func(o *observations) outcome {
			if o.sigterm == nil || len(o.sigterm.Hosts) == 0 {
				return skip("the SIGTERM run did not happen: %v", o.sigtermErr)
			}
			h := o.sigterm.Hosts[0]
			switch {
			case h.StartErr != nil:
				return skip("the SIGTERM run could not start: %v", h.StartErr)
			case h.Stop == nil:
				return skip("training ended before SIGTERM was sent %s after the start (it ran %s): nothing to observe", o.opts.windows.SigtermAfter, h.Duration.Round(time.Millisecond))
			case h.Stop.Killed:
				return fail("still running %s after SIGTERM: killed with SIGKILL", o.opts.windows.TrainingGrace)
			}
			return pass("exited %d %s after SIGTERM", h.ExitCode, h.Stop.Elapsed.Round(time.Millisecond))
		},
	},
	{
		ID: "C-TR-09", Level: Must,
		Description: "Host names come from resourceconfig.json, never from /etc/hostname or /etc/hosts",
		Hint:        "Read current_host and hosts from /opt/ml/input/config/resourceconfig.json.",
		Advice:      "Where a program takes its host name from is not visible from outside. The suite sets each container's hostname to its algo-N name as local mode does, so a program trusting /etc/hostname passes here and fails on SageMaker.",
	},
	{
		ID: "C-TR-10", Level: Should,
		Description: "Peer DNS resolution is retried (the toolkit allows up to 15 min)",
		Hint:        "Retry resolving every host of resourceconfig.json with backoff until it resolves (SageMaker's DNS may lag).",
		How:         "Runs training on two hosts (algo-1, algo-2) on a private network, each with its own resourceconfig.json and hostname, starting algo-2 two seconds after algo-1; both must exit 0, so algo-1 must keep trying its peer until it is there. Names resolve through the network's DNS and /etc/hosts (Docker drops a finished container from DNS, SageMaker does not), so the retry observed is reaching the peer, not the DNS lookup itself. Peer resolution is shown with getent when the image has it.",
		plays:       []play{playMultiHost},
		deps:        []string{"C-TR-05"},
		check: func(o *observations) outcome {
			if o.multi == nil {
				return skip("the multi-host run did not happen: %v", o.multiErr)
			}
			for _, h := range o.multi.Hosts {
				if h.StartErr != nil {
					return skip("%s could not start: %v", h.Host, h.StartErr)
				}
				if h.ExitCode != 0 {
					reason := firstLine(h.Failure)
					if reason == "" {
						reason = strings.TrimSpace(logTail(h.Logs))
					}
					return fail("%s exited %d with algo-2 starting %s after algo-1: %s", h.Host, h.ExitCode, o.opts.windows.PeerDelay, reason)
				}
			}
			return pass("both hosts exited 0; %s", o.multiResolve)
		},
	},
	{
		ID: "C-TR-11", Level: Must,
		Description: "Pipe-mode readers wait for each <channel>_<n> FIFO and read the epochs in order",
		Hint:        "Poll for /opt/ml/input/data/<channel>_<epoch> and read epochs 0, 1, 2... in order.",
		Advice:      "The suite runs File-mode channels only; Pipe-mode FIFOs are not emulated.",
	},
	{
		ID: "C-TR-12", Level: Should,
		Description: "Runs with no network access when isolation is on",
		Hint:        "Bake everything the job needs (packages, weights) into the image; do not download at run time.",
		How:         "Runs the training job again with no network at all (as network isolation does) and expects exit 0.",
		plays:       []play{playIsolated},
		deps:        []string{"C-TR-05"},
		check: func(o *observations) outcome {
			if o.isolated == nil || len(o.isolated.Hosts) == 0 {
				return skip("the isolated run did not happen: %v", o.isolatedErr)
			}
			h := o.isolated.Hosts[0]
			if h.StartErr != nil {
				return skip("the isolated run could not start: %v", h.StartErr)
			}
			if h.ExitCode != 0 {
				reason := firstLine(h.Failure)
				if reason == "" {
					reason = strings.TrimSpace(logTail(h.Logs))
				}
				return fail("exited %d without a network: %s", h.ExitCode, reason)
			}
			return pass("exited 0 without a network")
		},
	},
	{
		ID: "C-TR-13", Level: Must, Profile: ProfileGPU,
		Description: "GPU images contain no NVIDIA kernel driver",
		Hint:        "Ship only the CUDA user-space libraries; the host's driver is mounted in by the NVIDIA container runtime.",
		How:         "Lists the image's files and fails on nvidia*.ko kernel modules or NVIDIA driver libraries (libcuda.so.*, libnvidia-*.so*) outside CUDA's stubs and compat directories.",
		plays:       []play{playLayers},
		check:       noImageFiles(func(f fileFacts) []string { return f.drivers }, "the image ships driver files:", "no NVIDIA driver files"),
	},
	{
		ID: "C-TR-14", Level: Should,
		Description: "Metrics are printed to stdout/stderr unbuffered, in a regex-friendly form",
		Hint:        "Print metrics as plain lines (loss=0.42) and flush stdout (PYTHONUNBUFFERED=1).",
		Advice:      "Buffering only shows in timing, and metric formats are the job's MetricDefinitions, which the suite does not have.",
	},
	{
		ID: "C-GPU-01", Level: Should, Profile: ProfileGPU,
		Description: "GPU images carry the CUDA user-space runtime (libcudart)",
		Hint:        "Build GPU images on a CUDA base (sagekit/cuda:bookworm) or install the CUDA runtime libraries.",
		How:         "Lists the image's files and looks for libcudart.so*.",
		plays:       []play{playLayers},
		check: func(o *observations) outcome {
			if o.layersErr != nil {
				return skip("could not list the image's files: %v", o.layersErr)
			}
			if o.files.cudart == "" {
				return fail("no libcudart.so* in the image")
			}
			return pass("found /%s", o.files.cudart)
		},
	},
	{
		ID: "C-GPU-02", Level: Must, Profile: ProfileGPU,
		Description: "Training and serving work with the GPUs attached (nvidia-docker compatible)",
		Hint:        "Use a CUDA base whose version the instance's driver supports, and no bundled driver.",
		How:         "Runs training and then serving with every GPU attached (Docker DeviceRequests); needs a GPU runtime in the engine, otherwise reports skipped.",
		plays:       []play{playGPU},
		check: func(o *observations) outcome {
			g := o.gpu
			switch {
			case g.noRuntime:
				return skip("skipped: no GPU runtime")
			case g.err != nil:
				return fail("%v", g.err)
			case !g.trained:
				return fail("training with GPUs exited %d: %s", g.trainExit, g.trainReason)
			case !g.health.Healthy:
				return fail("serving with GPUs never answered /ping with 200")
			}
			return pass("trained and served with GPUs")
		},
	},

	// 12.3 Training toolkit.
	tTR01,
	tTR02,
	tTR03,
	tTR04,
	tTR05,
	tTR06,
	tTR07,
	tTR08,
	tTR09,
	tTR10,
	tTR11,
	tTR12,
	tTR13,
	tTR14,
	tTR15,

	// 12.5 Real-time inference, container side.
	{
		ID: "C-IN-01", Level: Must,
		Description: "`docker run IMAGE serve` starts an HTTP server listening on 0.0.0.0:8080",
		Hint:        "Listen on 0.0.0.0:8080 (not 127.0.0.1) when started with the argument serve.",
		How:         "Runs the image with CMD replaced by `serve` and the model mounted read-only; something must answer HTTP on port 8080 before the start-up deadline.",
		plays:       []play{playServe},
		check: func(o *observations) outcome {
			s := o.serve
			if s == nil || s.err != nil {
				return fail("`IMAGE serve` could not start: %v", o.serveErr())
			}
			h := s.effectiveHealth()
			switch {
			case h.Answered:
				return pass("answered HTTP on 8080 after %s", h.Elapsed.Round(time.Millisecond))
			case h.Exited && s.noModel:
				return fail("the container exited %d before answering on port 8080, with an empty /opt/ml/model because training wrote no model (see C-TR-03 and C-TR-05)%s", h.ExitCode, logTail(s.logs)).
					withFix("Make training succeed first (C-TR-05): serving had no model to load. Then the server must load /opt/ml/model and listen on 0.0.0.0:8080.")
			case h.Exited:
				return fail("the container exited %d before answering on port 8080%s", h.ExitCode, logTail(s.logs))
			}
			return fail("nothing answered HTTP on port 8080 within %s (last error: %v)%s", o.opts.windows.StartupTimeout, h.LastErr, logTail(s.logs))
		},
	},
	{
		ID: "C-IN-02", Level: Must, Claim: ClaimBindToPort,
		Description: "When SAGEMAKER_BIND_TO_PORT is set, listen on that port instead; otherwise 8080",
		Hint:        "Read SAGEMAKER_BIND_TO_PORT and listen there; fall back to 8080.",
		How:         "For images labelled com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true: starts a second serving container with SAGEMAKER_BIND_TO_PORT=9081 and expects /ping 200 on that port.",
		plays:       []play{playBind},
		deps:        []string{"C-IN-04", "C-IN-12"},
		check: func(o *observations) outcome {
			b := o.bind
			if b == nil || b.err != nil {
				return fail("could not start the container: %v", o.bindErr())
			}
			if !b.health.Healthy {
				return fail("no /ping 200 on port %d (SAGEMAKER_BIND_TO_PORT) within %s", bindPort, o.opts.windows.StartupTimeout)
			}
			return pass("healthy on port %d", bindPort)
		},
	},
	{
		ID: "C-IN-03", Level: Must,
		Description: "Any extra port comes from within SAGEMAKER_SAFE_PORT_RANGE (inclusive)",
		Hint:        "Pick internal ports (metrics, workers) from SAGEMAKER_SAFE_PORT_RANGE.",
		Advice:      "The ports a container listens on inside its own network namespace are not visible from outside without tools in the image.",
	},
	{
		ID: "C-IN-04", Level: Must,
		Description: "GET /ping answers 200 within 2 s once ready",
		Hint:        "Keep /ping cheap: answer 200 as soon as the model is loaded, without running inference.",
		How:         "Polls GET /ping with a 2 s timeout per ping until a 200 or the start-up deadline (--startup-timeout, 4 min by default).",
		plays:       []play{playServe},
		deps:        []string{"C-IN-01"},
		check: func(o *observations) outcome {
			h := o.serve.effectiveHealth()
			if h.Healthy {
				return pass("first 200 after %s (%d pings)", h.Elapsed.Round(time.Millisecond), h.Pings)
			}
			if h.Exited {
				return fail("the container exited %d before /ping answered 200%s", h.ExitCode, logTail(o.serve.logs))
			}
			return fail("no 200 within %s per ping before the %s deadline: %d pings, %d slower than the timeout, last status %d",
				o.opts.windows.PingTimeout, o.opts.windows.StartupTimeout, h.Pings, h.Slow, h.LastStatus)
		},
	},
	{
		ID: "C-IN-05", Level: Must,
		Description: "GET /ping does not answer 200 before the model can serve",
		Hint:        "Answer /ping with a non-200 status (e.g. 503) until the model is loaded.",
		How:         "Sends the sample invocation right after the first 200 ping; fails when it is refused but succeeds a few seconds later.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-07"},
		check: func(o *observations) outcome {
			f := o.serve.first
			if f == nil {
				return skip("no invocation right after /ping")
			}
			if f.ok(o.opts) {
				return pass("the first invocation after /ping succeeded (%d)", f.status)
			}
			return fail("/ping answered 200 but the first invocation got %s; it succeeded %s later", f.describe(), o.serve.firstRetryDelay.Round(time.Millisecond))
		},
	},
	{
		ID: "C-IN-06", Level: Must,
		Description: "Accepts socket connections on the serving port within 250 ms",
		Hint:        "Start listening before loading the model, and keep the accept loop free.",
		Advice:      "The kernel completes TCP handshakes before the program accepts them, and Docker's port proxy accepts on its behalf, so connection latency is not observable from outside; /ping latency (C-IN-04) is checked instead.",
	},
	{
		ID: "C-IN-07", Level: Must,
		Description: "POST /invocations answers within 60 s (the sample request gets the expected answer)",
		Hint:        "Answer within 60 s; move slow work to model loading, and check the sample payload and content type the suite sends.",
		How:         "Sends the sample request (--payload/--content-type, or three rows of four numbers as text/csv) with a 60 s timeout; expects 2xx (or --expect-status) and --expect-body-contains when given.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-04"},
		check: func(o *observations) outcome {
			s := o.serve.sample
			if s == nil {
				return skip("no sample invocation was sent")
			}
			if !s.ok(o.opts) {
				return fail("the sample invocation got %s%s", s.describe(), o.expectations())
			}
			return pass("%d %s in %s", s.status, s.contentType, s.elapsed.Round(time.Millisecond))
		},
	},
	{
		ID: "C-IN-08", Level: Must,
		Description: "Accepts bodies up to 6 MB",
		Hint:        "Raise the server's or proxy's body limit to at least 6 MiB (nginx: client_max_body_size 6m).",
		How:         "Sends the sample grown to just under 6 MiB (6291456 bytes: CSV rows repeated, JSON padded with whitespace); fails on 413 or a dropped connection.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-07"},
		evidence: func(o *observations) (outcome, bool) {
			// A 413 is the server's own answer: the sample need not work.
			if o.serve != nil && o.serve.large != nil && o.serve.large.err == nil && o.serve.large.status == http.StatusRequestEntityTooLarge {
				return fail("a %d-byte body got %s", o.serve.large.size, o.serve.large.describe()), true
			}
			return outcome{}, false
		},
		check: func(o *observations) outcome {
			l := o.serve.large
			if l == nil {
				return skip("the large invocation was not sent")
			}
			if l.err != nil || l.status == http.StatusRequestEntityTooLarge {
				return fail("a %d-byte body got %s", l.size, l.describe())
			}
			return pass("a %d-byte body got %d", l.size, l.status)
		},
	},
	{
		ID: "C-IN-09", Level: Must,
		Description: "Unknown request headers are ignored",
		Hint:        "Do not reject requests for headers you do not know; SageMaker may add some.",
		How:         "Sends the sample again with extra headers (X-Amzn-SageMaker-Inference-Id, X-Amzn-SageMaker-Custom-Attributes, X-Sagekit-Conformance-Probe) and expects the same status as without.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-07"},
		check: func(o *observations) outcome {
			h := o.serve.headers
			if h == nil {
				return skip("not sent")
			}
			if h.err != nil || h.status != o.serve.sample.status {
				return fail("with extra headers the sample got %s instead of %d", h.describe(), o.serve.sample.status)
			}
			return pass("same status (%d) with extra headers", h.status)
		},
	},
	{
		ID: "C-IN-10", Level: Must,
		Description: "Sets a Content-Type on every /invocations response",
		Hint:        "Always set Content-Type on /invocations responses; SageMaker hands it to the caller.",
		How:         "Checks the Content-Type header of every /invocations response the suite received.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-07"},
		evidence: func(o *observations) (outcome, bool) {
			// Every answer counts, whether or not the sample's was right.
			if missing := missingContentType(o.serve); len(missing) > 0 {
				return fail("no Content-Type on: %s", strings.Join(missing, ", ")), true
			}
			return outcome{}, false
		},
		check: func(o *observations) outcome {
			if missing := missingContentType(o.serve); len(missing) > 0 {
				return fail("no Content-Type on: %s", strings.Join(missing, ", "))
			}
			return pass("Content-Type set on every response (sample: %s)", o.serve.sample.contentType)
		},
	},
	{
		ID: "C-IN-11", Level: Should,
		Description: "Unsupported input content type is rejected with a 4xx (the reference container uses 415)",
		Hint:        "Answer 415 Unsupported Media Type for content types the model does not read.",
		How:         "Sends a body with Content-Type application/x-sagekit-unsupported and expects a 4xx.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-07"},
		evidence: func(o *observations) (outcome, bool) {
			// A 2xx for a type no model reads is wrong whatever the sample got.
			if o.serve != nil && o.serve.unsupported != nil && o.serve.unsupported.err == nil && o.serve.unsupported.status/100 == 2 {
				return fail("an unsupported content type got %s", o.serve.unsupported.describe()), true
			}
			return outcome{}, false
		},
		check: func(o *observations) outcome {
			u := o.serve.unsupported
			if u == nil {
				return skip("not sent")
			}
			if u.err != nil || u.status < 400 || u.status > 499 {
				return fail("an unsupported content type got %s", u.describe())
			}
			return pass("answered %d", u.status)
		},
	},
	{
		ID: "C-IN-12", Level: Must,
		Description: "Reads the model from /opt/ml/model and never writes there (read-only in hosting)",
		Hint:        "Write caches and scratch files to /tmp, never under /opt/ml/model.",
		How:         "Serves with /opt/ml/model mounted read-only; if the container exits, starts it again with the model writable, and fails the rule when that one comes up.",
		plays:       []play{playServe},
		check: func(o *observations) outcome {
			s := o.serve
			if s == nil || s.err != nil {
				return skip("`IMAGE serve` could not start")
			}
			if s.health.Healthy {
				return pass("served with /opt/ml/model read-only")
			}
			if s.rw != nil && s.rw.Healthy {
				return fail("exited %d with /opt/ml/model read-only, but became healthy with it writable%s", s.health.ExitCode, logTail(s.roLogs))
			}
			return skip("the container never became healthy, read-only or not")
		},
	},
	{
		ID: "C-IN-13", Level: Must,
		Description: "Handles SIGTERM: stops accepting and exits within 30 s; PID 1 forwards the signal to its children",
		Hint:        "Handle SIGTERM in PID 1: stop the server gracefully and exit; forward the signal to child processes.",
		How:         "Sends SIGTERM to the serving container after the other checks and expects it to exit within 30 s (SIGKILL follows, as on SageMaker).",
		plays:       []play{playServe},
		deps:        []string{"C-IN-01"},
		check: func(o *observations) outcome {
			st := o.serve.stop
			switch {
			case o.serve.stopErr != nil:
				return skip("could not stop: %v", o.serve.stopErr)
			case st.AlreadyExited:
				return skip("the container had already exited (%d)", st.ExitCode)
			case st.Killed:
				return fail("still running %s after SIGTERM: killed", o.opts.windows.HostingGrace)
			}
			return pass("exited %d %s after SIGTERM", st.ExitCode, st.Elapsed.Round(time.Millisecond))
		},
	},
	{
		ID: "C-IN-14", Level: Should,
		Description: "Non-matching paths get 404",
		Hint:        "Answer 404 for routes other than /ping, /invocations (and the optional ones).",
		How:         "GET /sagekit-conformance/no-such-path must answer 404.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-04"},
		check: func(o *observations) outcome {
			n := o.serve.notFound
			if n == nil {
				return skip("not sent")
			}
			if n.status != http.StatusNotFound {
				return fail("an unknown path got %s", n.describe())
			}
			return pass("404")
		},
	},
	{
		ID: "C-IN-15", Level: Should,
		Description: "X-Amzn-SageMaker-Custom-Attributes is echoed or set on the response if the model wants the caller to see it",
		Hint:        "Set X-Amzn-SageMaker-Custom-Attributes on the response when the caller should see attributes.",
		Advice:      "Whether a model wants the caller to see attributes is the model's choice; any answer is conformant.",
	},
	{
		ID: "C-IN-16", Level: Should,
		Description: "If the server process dies the container exits",
		Hint:        "Supervise worker processes in PID 1 and exit when one dies.",
		Advice:      "Which process inside the container is the server is not visible from outside, so the suite cannot kill it alone.",
	},
	{
		ID: "C-IN-17", Level: Must,
		Description: "Runs as root; needs no writable image paths other than /tmp",
		Hint:        "Remove USER from the Dockerfile (or set USER root); SageMaker expects containers to run as root.",
		How:         "Reads the image config: USER must be empty, root or 0.",
		plays:       []play{playStatic},
		check: func(o *observations) outcome {
			u := o.image.User
			switch strings.SplitN(u, ":", 2)[0] {
			case "", "root", "0":
				return pass("runs as root")
			}
			return fail("USER is %q", u)
		},
	},
	{
		ID: "C-IN-18", Level: Should,
		Description: "Logs go to stdout/stderr",
		Hint:        "Log to stdout/stderr (symlink server log files to /dev/stdout and /dev/stderr).",
		How:         "The serving container must write something to stdout or stderr while it starts and serves.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-01"},
		check: func(o *observations) outcome {
			if len(strings.TrimSpace(string(o.serve.logs))) == 0 {
				return fail("the serving container wrote nothing to stdout or stderr")
			}
			return pass("%d bytes of logs", len(o.serve.logs))
		},
	},

	// 12.6 Inference toolkit.
	ruleTIN01,
	ruleTIN02,
	ruleTIN03,
	ruleTIN04,
	ruleTIN05,
	ruleTIN06,
	ruleTIN07,
	ruleTIN08,

	// 12.7 Batch transform.
	{
		ID: "C-BT-01", Level: Must,
		Description: "If /execution-parameters is implemented, it returns JSON with MaxConcurrentTransforms (int), BatchStrategy, MaxPayloadInMB (int)",
		Hint:        `Return {"MaxConcurrentTransforms": 1, "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6} with integer numbers, or answer 404.`,
		How:         "Starts a serving container with SAGEMAKER_BATCH=true and GETs /execution-parameters: 404 means not implemented (not applicable); 200 must carry the three keys with the right types.",
		plays:       []play{playBatch},
		deps:        []string{"C-IN-04", "C-IN-12"},
		check: func(o *observations) outcome {
			b := o.batch
			if b == nil || b.err != nil || !b.health.Healthy {
				return fail("the batch container did not become healthy: %v", o.batchErr())
			}
			ep := b.execParams
			if ep == nil {
				return skip("not requested")
			}
			if ep.status == http.StatusNotFound {
				return na("/execution-parameters is not implemented (optional)")
			}
			if ep.status != http.StatusOK {
				return fail("/execution-parameters answered %s", ep.describe())
			}
			return checkExecutionParameters(ep.body)
		},
	},
	{
		ID: "C-BT-02", Level: Should,
		Description: "Handles up to SAGEMAKER_MAX_CONCURRENT_TRANSFORMS concurrent /invocations",
		Hint:        "Serve concurrent requests (several workers or threads), at least as many as MaxConcurrentTransforms.",
		How:         "With SAGEMAKER_MAX_CONCURRENT_TRANSFORMS=4, sends the sample 4 times at once; all must get the sample's status.",
		plays:       []play{playBatch},
		deps:        []string{"C-IN-07", "C-IN-05", "C-IN-12"},
		check: func(o *observations) outcome {
			b := o.batch
			if b == nil || !b.health.Healthy {
				return fail("the batch container did not become healthy: %v", o.batchErr())
			}
			for i, iv := range b.concurrent {
				if !iv.ok(o.opts) {
					return fail("concurrent request %d of %d got %s", i+1, len(b.concurrent), iv.describe())
				}
			}
			return pass("%d concurrent requests succeeded", len(b.concurrent))
		},
	},
	{
		ID: "C-BT-03", Level: Should,
		Description: "For MultiRecord/Line input, returns exactly one output record per input record, in order",
		Hint:        "Emit one output line per input line (a placeholder for records that fail).",
		How:         "In the batch container, sends the sample when it is line-based (text/csv, JSON lines) and counts the lines of a line-based answer.",
		plays:       []play{playBatch},
		deps:        []string{"C-IN-07", "C-IN-05", "C-IN-12"},
		check: func(o *observations) outcome {
			b := o.batch
			if b == nil || !b.health.Healthy {
				return fail("the batch container did not become healthy: %v", o.batchErr())
			}
			if !lineBased(o.opts.contentType) {
				return na("the sample's content type %s is not line-based", o.opts.contentType)
			}
			r := b.records
			if r == nil || !r.ok(o.opts) {
				return fail("the multi-record request got %s", r.describe())
			}
			if !lineBased(r.contentType) {
				return na("the answer's content type %q is not line-based", r.contentType)
			}
			in, out := countLines(o.opts.payload), countLines(r.body)
			if in != out {
				return fail("%d input records gave %d output records", in, out)
			}
			return pass("%d records in, %d out", in, out)
		},
	},

	// 12.8 Multi-model endpoints.
	{
		ID: "C-MM-01", Level: Must,
		Description: "Image has the label com.amazonaws.sagemaker.capabilities.multi-models=true",
		Hint:        "LABEL com.amazonaws.sagemaker.capabilities.multi-models=true in images that serve the multi-model API.",
		How:         "Reads the label; an image without it that answers GET /models with 200 fails, one without either is not applicable.",
		plays:       []play{playStatic, playServe},
		check: func(o *observations) outcome {
			if o.claims[ClaimMultiModel] {
				return pass("labelled")
			}
			if m := o.serve.models; m != nil && m.status == http.StatusOK {
				return fail("serves GET /models but lacks the label, so SageMaker will not use it as a multi-model endpoint")
			}
			return na("not a multi-model image")
		},
	},
	{
		ID: "C-MM-02", Level: Must, Claim: ClaimMultiModel,
		Description: `POST /models {"model_name","url"} loads the model; 409 if already loaded; 507 if out of resources`,
		Hint:        "Load the model named by model_name from url; answer 409 when it is already loaded.",
		How:         "Starts a container with SAGEMAKER_MULTI_MODEL=true and a model at /opt/ml/models/<name>/model; loads it (2xx expected), then loads it again (409 expected).",
		deps:        []string{"C-IN-04", "C-IN-12"},
		plays:       []play{playMultiModel},
		check: func(o *observations) outcome {
			m := o.mm
			if m == nil || m.err != nil || !m.health.Healthy {
				return fail("the multi-model container did not become healthy: %v", o.mmErr())
			}
			if !is2xx(m.load.status) {
				return fail("loading got %s", m.load.describe())
			}
			if m.reload.status != http.StatusConflict {
				return fail("loading the same model again got %s, want 409", m.reload.describe())
			}
			return pass("load %d, reload 409", m.load.status)
		},
	},
	{
		ID: "C-MM-03", Level: Must, Claim: ClaimMultiModel,
		Description: `GET /models returns {"models":[{"modelName","modelUrl"}]} and supports next_page_token`,
		Hint:        `Answer GET /models with {"models":[{"modelName": ..., "modelUrl": ...}], "nextPageToken": ...}.`,
		How:         "After loading one model, GET /models must list it with modelName and modelUrl.",
		plays:       []play{playMultiModel},
		deps:        []string{"C-MM-02"},
		check: func(o *observations) outcome {
			l := o.mm.list
			if l.status != http.StatusOK {
				return fail("GET /models got %s", l.describe())
			}
			var v struct {
				Models []struct {
					Name string `json:"modelName"`
					URL  string `json:"modelUrl"`
				} `json:"models"`
			}
			if err := json.Unmarshal(l.body, &v); err != nil {
				return fail("GET /models is not the expected JSON: %v", err)
			}
			for _, m := range v.Models {
				if m.Name == mmModel && m.URL != "" {
					return pass("lists %s", mmModel)
				}
			}
			return fail("GET /models does not list {modelName: %q, modelUrl: ...}: %s", mmModel, truncate(l.body, 200))
		},
	},
	{
		ID: "C-MM-04", Level: Must, Claim: ClaimMultiModel,
		Description: `GET /models/<name> returns {"modelName","modelUrl"}, or 404`,
		Hint:        "Answer GET /models/<name> with the model, or 404 when it is not loaded.",
		How:         "GET /models/<loaded> must return its modelName; GET /models/<unknown> must return 404.",
		plays:       []play{playMultiModel},
		deps:        []string{"C-MM-02"},
		check: func(o *observations) outcome {
			m := o.mm
			var v struct {
				Name string `json:"modelName"`
			}
			if m.get.status != http.StatusOK || json.Unmarshal(m.get.body, &v) != nil || v.Name != mmModel {
				return fail("GET /models/%s got %s", mmModel, m.get.describe())
			}
			if m.getUnknown.status != http.StatusNotFound {
				return fail("GET /models/<unknown> got %s, want 404", m.getUnknown.describe())
			}
			return pass("found, and 404 for an unknown model")
		},
	},
	{
		ID: "C-MM-05", Level: Must, Claim: ClaimMultiModel,
		Description: "DELETE /models/<name> frees the resources before responding, or returns 404",
		Hint:        "Unload the model before answering DELETE; answer 404 for models that are not loaded.",
		How:         "DELETE /models/<loaded> must answer 2xx, after which GET /models/<name> and another DELETE answer 404.",
		plays:       []play{playMultiModel},
		deps:        []string{"C-MM-02", "C-MM-04"},
		check: func(o *observations) outcome {
			m := o.mm
			switch {
			case !is2xx(m.del.status):
				return fail("DELETE got %s", m.del.describe())
			case m.getAfterDel.status != http.StatusNotFound:
				return fail("after DELETE, GET /models/%s got %s, want 404", mmModel, m.getAfterDel.describe())
			case m.delAgain.status != http.StatusNotFound:
				return fail("a second DELETE got %s, want 404", m.delAgain.describe())
			}
			return pass("unloaded")
		},
	},
	{
		ID: "C-MM-06", Level: Must, Claim: ClaimMultiModel,
		Description: "POST /models/<name>/invoke runs inference (404 if not loaded)",
		Hint:        "Route POST /models/<name>/invoke to the loaded model; answer 404 when it is not loaded.",
		How:         "Invokes the loaded model with the sample (2xx expected) and an unknown one (404 expected).",
		plays:       []play{playMultiModel},
		deps:        []string{"C-MM-02", "C-IN-05"},
		check: func(o *observations) outcome {
			m := o.mm
			if !m.invoke.ok(o.opts) {
				return fail("invoking %s got %s", mmModel, m.invoke.describe())
			}
			if m.invokeUnknown.status != http.StatusNotFound {
				return fail("invoking an unknown model got %s, want 404", m.invokeUnknown.describe())
			}
			return pass("invoke %d, unknown 404", m.invoke.status)
		},
	},

	// 12.10 Image.
	{
		ID: "C-IMG-01", Level: Must,
		Description: "The image architecture matches the target instance (amd64, or arm64 for Graviton)",
		Hint:        "Build for linux/amd64 (or linux/arm64 for Graviton instances): sagekit build --platform.",
		How:         "Reads os/architecture from the image config: linux and amd64 or arm64.",
		plays:       []play{playStatic},
		check: func(o *observations) outcome {
			i := o.image
			if i.OS != "linux" || (i.Architecture != "amd64" && i.Architecture != "arm64") {
				return fail("the image is %s/%s; SageMaker runs linux/amd64 and linux/arm64", i.OS, i.Architecture)
			}
			return pass("%s/%s", i.OS, i.Architecture)
		},
	},
	{
		ID: "C-IMG-02", Level: Must,
		Description: "Image reference ≤ 255 chars, repo[:tag] or repo@digest",
		Hint:        "Shorten the repository name; SageMaker accepts at most 255 characters.",
		How:         "Parses the image reference given to the suite and checks its length.",
		plays:       []play{playStatic},
		check: func(o *observations) outcome {
			ref := o.image.Ref
			if len(ref) > 255 {
				return fail("the reference is %d characters long", len(ref))
			}
			if _, err := name.ParseReference(ref); err != nil {
				return fail("%v", err)
			}
			return pass("%d characters", len(ref))
		},
	},
	{
		ID: "C-IMG-03", Level: Must, Claim: ClaimBidiStreaming,
		Description: "Streaming-bidi images serve a WebSocket at /invocations-bidirectional-stream on 8080 that answers pings with pongs",
		Hint:        "Serve a WebSocket at /invocations-bidirectional-stream and answer ping frames with pong frames.",
		How:         "For images labelled …capabilities.bidirectional-streaming=true: opens the WebSocket on the serving container and sends a ping frame; expects a pong.",
		plays:       []play{playServe},
		deps:        []string{"C-IN-04"},
		check: func(o *observations) outcome {
			if o.serve.bidiErr != nil {
				return fail("%v", o.serve.bidiErr)
			}
			return pass("ping answered with pong")
		},
	},
	{
		ID: "C-IMG-04", Level: Must,
		Description: "The image works when started as root with no extra capabilities, no TTY, and stdin closed",
		Hint:        "Do not rely on added capabilities, a TTY or stdin.",
		Advice:      "The suite always starts containers this way, so an image that needs more fails the training and serving rules instead.",
	},
	{
		ID: "C-IMG-05", Level: Should,
		Description: "The image needs no CMD (it never runs on SageMaker)",
		Hint:        "Do not rely on CMD; SageMaker replaces it with train or serve.",
		Advice:      "The suite replaces CMD as SageMaker does, so an image that relies on it fails C-TR-01 or C-IN-01 instead.",
	},
}

// checkExecutionParameters validates an /execution-parameters body.
func checkExecutionParameters(body []byte) outcome {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(body, &v); err != nil {
		return fail("the body is not a JSON object: %v", err)
	}
	var problems []string
	for _, k := range []string{"MaxConcurrentTransforms", "MaxPayloadInMB"} {
		var n int
		raw, ok := v[k]
		if !ok {
			problems = append(problems, k+" is missing")
		} else if json.Unmarshal(raw, &n) != nil {
			problems = append(problems, fmt.Sprintf("%s is %s, not an integer", k, raw))
		}
	}
	var bs string
	if raw, ok := v["BatchStrategy"]; !ok {
		problems = append(problems, "BatchStrategy is missing")
	} else if json.Unmarshal(raw, &bs) != nil {
		problems = append(problems, fmt.Sprintf("BatchStrategy is %s, not a string", raw))
	} else if !slices.Contains([]string{"MultiRecord", "SingleRecord", "MULTI_RECORD", "SINGLE_RECORD"}, bs) {
		problems = append(problems, fmt.Sprintf("BatchStrategy %q is not MultiRecord or SingleRecord", bs))
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(problems, "; "))
	}
	return pass("%s", truncate(body, 120))
}

func lineBased(ct string) bool {
	ct = strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
	switch ct {
	case "text/csv", "application/jsonlines", "application/x-jsonlines", "application/jsonl":
		return true
	}
	return false
}

func countLines(b []byte) int {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}
