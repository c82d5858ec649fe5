// Package sdkmod carries sagekit's own Go module inside the sagekit binary,
// so that a Go project made by `sagekit init` builds with no checkout and
// before (or without) the module being published.
//
// `make build` zips the module source as the Go toolchain's module proxy
// would serve it (every file git tracks, under module@version/), names it
// with the build's version (a release tag, or a pseudo-version of the
// commit), and embeds the zip with the build tag sagekit_embed. At build
// time the zip is laid out as a file-based GOPROXY for this one module path
// and put in front of the user's own GOPROXY; checksums go to go.sum as for
// any module, and they are the checksums the published module has, so the
// same go.mod and go.sum keep working once it is published.
//
// A binary built without the tag (go test, go run inside the source)
// zips the source it runs in instead.
package sdkmod
