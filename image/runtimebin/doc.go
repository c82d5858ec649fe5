// Package runtimebin finds the linux/amd64 and linux/arm64 sagekit-runtime
// binaries that sagekit build adds to every build context.
//
// A release binary of sagekit, built by `make build` with the build tag
// sagekit_embed, carries both runtimes inside itself. Without that tag the
// runtimes are looked up next to the sagekit executable (../lib/sagekit/
// linux-<arch>/ or bin/linux-<arch>/), and, when sagekit runs inside its
// own module source (tests, `go run`), built with the Go toolchain.
package runtimebin
