package conformance

import "errors"

var gpuCases = map[string][]ruleCase{
	"C-GPU-01": {
		{name: "cudart", want: StatusPass, msg: "libcudart.so.12"},
		{name: "no cudart", edit: func(o *observations) { o.files.cudart = "" }, want: StatusFail, msg: "no libcudart"},
		{name: "unreadable layers", edit: func(o *observations) { o.layersErr = errors.New("broken") }, want: StatusSkip},
	},
	"C-GPU-02": {
		{name: "trained and served", want: StatusPass},
		{name: "no runtime", edit: func(o *observations) { o.gpu = gpuObs{noRuntime: true} }, want: StatusSkip, msg: "no GPU runtime"},
		{name: "training failed", edit: func(o *observations) {
			o.gpu = gpuObs{trainExit: 1, trainReason: "CUDA driver version is insufficient"}
		}, want: StatusFail, msg: "exited 1: CUDA driver"},
		{name: "never healthy", edit: func(o *observations) { o.gpu.health.Healthy = false }, want: StatusFail, msg: "never answered /ping"},
		{name: "engine error", edit: func(o *observations) { o.gpu = gpuObs{err: errors.New("device busy")} }, want: StatusFail, msg: "device busy"},
	},
}
