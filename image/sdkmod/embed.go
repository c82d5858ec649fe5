//go:build sagekit_embed

package sdkmod

import _ "embed"

// Made by `make build` (go run ./image/sdkmod/mksdk).
var (
	//go:embed embedded/sdk.zip
	embeddedZip []byte
	//go:embed embedded/sdk.json
	embeddedMeta []byte
)

// Embedded reports whether this binary carries the module.
const Embedded = true
