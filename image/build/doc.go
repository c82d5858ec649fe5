// Package build builds container images from a Dockerfile with BuildKit.
//
// The default builder is the BuildKit inside the local Docker Engine,
// reached over the Engine API's /grpc and /session endpoints the way
// buildx's docker driver does; images land in the Engine's image store.
// A standalone buildkitd (unix:// or tcp://) can be used instead; its
// result is loaded into the Engine through the docker exporter.
//
// Every build context gets a virtual .sagekit/ directory holding the
// sagekit-runtime for each target architecture and, when sagekit.json names
// a Go main package, the algorithm compiled on the host for that
// architecture. No image is pulled: Dockerfiles must not carry a
// `# syntax=` line, base images resolve from the local store, and no
// attestations are requested.
//
// A Dockerfile that only copies context files onto a base in the Engine's
// store (or scratch) and sets config is assembled without BuildKit, as ko
// assembles images: each COPY layer is made on the host with BuildKit's
// COPY rules and kept in a content cache, and only the new layers are
// loaded into the Engine (image/engineload). Options.Via chooses.
package build
