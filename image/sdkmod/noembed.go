//go:build !sagekit_embed

package sdkmod

var embeddedZip, embeddedMeta []byte

// Embedded reports whether this binary carries the module.
const Embedded = false
