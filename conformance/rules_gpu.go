package conformance

// gpuRules are the rules of contract section 7, GPU images (sagekit's own ids).
var gpuRules = ruleSection{
	title: "GPU images (C-GPU, from contract section 7)",
	rules: []Rule{
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
	},
}
