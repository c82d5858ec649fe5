package conformance

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// trainingRules are the rules of contract section 12.2, training on the container side.
var trainingRules = ruleSection{
	title: "Training (C-TR)",
	rules: []Rule{
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
				if _, err := o.trainHost(); err != nil {
					return fail("%v", err)
				}
				files := o.modelFiles
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
			How:         "Reads /opt/ml in the image's file system, as a container created from the image and never started sees it (files deleted by later layers are gone), and fails on any file there.",
			plays:       []play{playLayers},
			check:       noImageFiles(func(f fileFacts) []string { return f.optML }, "the image ships", "nothing under /opt/ml"),
		},
		{
			ID: "C-TR-08", Level: Should,
			Description: "On SIGTERM it saves what it can within 120 s",
			Hint:        "Handle SIGTERM in the training program, installing the handler first thing: save a checkpoint and exit before SIGKILL comes 120 s later.",
			How:         "Starts a second training run, sends SIGTERM 100 ms after its first output (5 s after the start if it prints nothing), once the program runs and can handle the signal: the kernel drops a SIGTERM that reaches PID 1 before it has a handler. Expects the container to exit within the grace period (120 s) rather than be killed.",
			plays:       []play{playSigterm},
			deps:        []string{"C-TR-01"},
			evidence: func(o *observations) (outcome, bool) {
				// A run killed after SIGTERM breaks the rule whatever made
				// C-TR-01 fail.
				if o.sigterm != nil && len(o.sigterm.Hosts) > 0 {
					if h := o.sigterm.Hosts[0]; h.Stop != nil && h.Stop.Killed {
						return fail("still running %s after SIGTERM: killed with SIGKILL", o.opts.windows.TrainingGrace), true
					}
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				if o.sigterm == nil || len(o.sigterm.Hosts) == 0 {
					return skip("the SIGTERM run did not happen: %v", o.sigtermErr)
				}
				h := o.sigterm.Hosts[0]
				switch {
				case h.StartErr != nil:
					return skip("the SIGTERM run could not start: %v", h.StartErr)
				case h.Stop == nil:
					return skip("training ended before SIGTERM was sent (%s after its first output, %s after the start if silent; it ran %s): nothing to observe", o.opts.windows.SigtermAfter, o.opts.windows.SigtermSilent, h.Duration.Round(time.Millisecond))
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
	},
}
