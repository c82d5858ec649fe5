//go:build sagekit_embed

package runtimebin

import _ "embed"

//go:embed linux-amd64/sagekit-runtime
var runtimeAMD64 []byte

//go:embed linux-arm64/sagekit-runtime
var runtimeARM64 []byte

// Embedded reports whether this binary carries the runtimes.
const Embedded = true

func embedded(goarch string) []byte {
	switch goarch {
	case "amd64":
		return runtimeAMD64
	case "arm64":
		return runtimeARM64
	}
	return nil
}
