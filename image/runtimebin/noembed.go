//go:build !sagekit_embed

package runtimebin

// Embedded reports whether this binary carries the runtimes.
const Embedded = false

func embedded(string) []byte { return nil }
