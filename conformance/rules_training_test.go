package conformance

import (
	"errors"
	"time"

	"github.com/sagekit/sagekit/platform"
)

var trainingCases = map[string][]ruleCase{
	"C-TR-01": {
		{name: "started", want: StatusPass, msg: "started; exited 0"},
		{name: "started and failed", edit: func(o *observations) { o.train = training(failedHost("algo-1", 1, "bad data")) }, want: StatusPass, msg: "exited 1"},
		{name: "not found", edit: func(o *observations) { o.train = training(host("algo-1", 127)) }, want: StatusFail, msg: "exited 127 (command not found"},
		{name: "not executable", edit: func(o *observations) { o.train = training(host("algo-1", 126)) }, want: StatusFail, msg: "exited 126"},
		{name: "could not start", edit: func(o *observations) {
			h := host("algo-1", 0)
			h.StartErr = errors.New("exec: \"train\": executable file not found")
			o.train = training(h)
		}, want: StatusFail, msg: "could not start"},
		{name: "no run", edit: func(o *observations) { o.train, o.trainErr = nil, errors.New("no engine") }, want: StatusFail, msg: "did not happen"},
	},
	"C-TR-02": {
		{name: "exec form", want: StatusPass, msg: "exec form"},
		{name: "no entrypoint", edit: func(o *observations) { o.image.Entrypoint = nil }, want: StatusPass, msg: "no ENTRYPOINT"},
		{name: "shell script with exec form", edit: func(o *observations) { o.image.Entrypoint = []string{"/bin/sh", "/entry.sh"} }, want: StatusPass},
		{name: "shell form", edit: func(o *observations) { o.image.Entrypoint = []string{"/bin/sh", "-c", "program"} }, want: StatusFail, msg: "shell form"},
		{name: "tini", edit: func(o *observations) { o.image.Entrypoint = []string{"/usr/bin/tini", "--", "program"} }, want: StatusFail, msg: "starts with tini"},
	},
	"C-TR-03": {
		{name: "model saved", want: StatusPass, msg: "model.json"},
		{name: "empty model", edit: func(o *observations) { o.modelFiles = nil }, want: StatusFail, msg: "left /opt/ml/model empty"},
	},
	"C-TR-04": {
		{name: "every failure has a reason", want: StatusPass, msg: "every failed run wrote its reason"},
		{name: "read-only model ignored", edit: func(o *observations) {
			o.failure = training(host("algo-1", 0))
			o.provoked[0].tr = o.failure
		}, want: StatusFail, msg: "exited 0 although /opt/ml/model was read-only"},
		{name: "no failure file", edit: func(o *observations) { o.provoked[1].tr = training(host("algo-1", 2)) }, want: StatusFail, msg: "exited 2 on algo-1 without writing /opt/ml/output/failure"},
		{name: "empty failure file", edit: func(o *observations) { o.provoked[2].tr = training(failedHost("algo-1", 1, " \n")) }, want: StatusFail, msg: "left /opt/ml/output/failure empty"},
		{name: "valid job without a reason", edit: func(o *observations) { o.train = training(host("algo-1", 1)) }, want: StatusFail, msg: "the run the valid job exited 1"},
		{name: "failure run did not start", edit: func(o *observations) {
			h := host("algo-1", 0)
			h.StartErr = errors.New("no such image")
			o.failure = training(h)
		}, want: StatusSkip, msg: "could not start"},
		{name: "evidence", evidence: true, edit: func(o *observations) { o.multi = training(host("algo-1", 1), host("algo-2", 0)) }, want: StatusFail, msg: "on two hosts exited 1 on algo-1"},
		{name: "no evidence", evidence: true, want: "no evidence"},
	},
	"C-TR-05": {
		{name: "exit 0", want: StatusPass, msg: "exited 0"},
		{name: "failure file", edit: func(o *observations) { o.train = training(failedHost("algo-1", 1, "no channel training\ntraceback")) }, want: StatusFail, msg: "exited 1; /opt/ml/output/failure:\nno channel training"},
		{name: "no failure file", edit: func(o *observations) { o.train = training(host("algo-1", 2)) }, want: StatusFail, msg: "exited 2"},
	},
	"C-TR-07": {
		{name: "nothing under /opt/ml", want: StatusPass, msg: "nothing under /opt/ml"},
		{name: "files under /opt/ml", edit: func(o *observations) { o.files.optML = []string{"opt/ml/model/weights.bin"} }, want: StatusFail, msg: "the image ships opt/ml/model/weights.bin"},
		{name: "unreadable layers", edit: func(o *observations) { o.layersErr = errors.New("saving: no space") }, want: StatusSkip, msg: "could not list"},
	},
	"C-TR-08": {
		{name: "exits on SIGTERM", want: StatusPass, msg: "exited 143"},
		{name: "killed", edit: func(o *observations) {
			h := host("algo-1", 137)
			h.Stop = &platform.StopResult{Elapsed: 5 * time.Second, Killed: true, ExitCode: 137}
			o.sigterm = training(h)
		}, want: StatusFail, msg: "killed with SIGKILL"},
		{name: "ended before SIGTERM", edit: func(o *observations) { o.sigterm = training(host("algo-1", 0)) }, want: StatusSkip, msg: "nothing to observe"},
	},
	"C-TR-10": {
		{name: "both hosts", want: StatusPass, msg: "both hosts exited 0; algo-1 resolves algo-2"},
		{name: "peer not retried", edit: func(o *observations) {
			o.multi = training(failedHost("algo-1", 1, "lookup algo-2: no such host"), host("algo-2", 0))
		}, want: StatusFail, msg: "algo-1 exited 1 with algo-2 starting 2s after algo-1: lookup algo-2: no such host"},
		{name: "host did not start", edit: func(o *observations) {
			h := host("algo-2", 0)
			h.StartErr = errors.New("network gone")
			o.multi = training(host("algo-1", 0), h)
		}, want: StatusSkip, msg: "algo-2 could not start"},
	},
	"C-TR-12": {
		{name: "no network needed", want: StatusPass, msg: "without a network"},
		{name: "downloads", edit: func(o *observations) { o.isolated = training(failedHost("algo-1", 1, "urlopen error")) }, want: StatusFail, msg: "exited 1 without a network: urlopen error"},
		{name: "logs when no reason", edit: func(o *observations) {
			h := host("algo-1", 1)
			h.Logs = []byte("pip: network unreachable\n")
			o.isolated = training(h)
		}, want: StatusFail, msg: "network unreachable"},
	},
	"C-TR-13": {
		{name: "no driver", want: StatusPass, msg: "no NVIDIA driver files"},
		{name: "driver", edit: func(o *observations) { o.files.drivers = []string{"usr/lib/x86_64-linux-gnu/libcuda.so.535.1"} }, want: StatusFail, msg: "libcuda.so.535.1"},
	},
}
