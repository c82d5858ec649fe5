package conformance

import "github.com/google/go-containerregistry/pkg/name"

// imageRules are the rules of contract section 12.10, the image itself.
var imageRules = ruleSection{
	title: "Image (C-IMG)",
	rules: []Rule{
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
	},
}
