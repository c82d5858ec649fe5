// Package platform plays the SageMaker side of the container contract on the
// local container engine: it lays out /opt/ml on the host, runs `IMAGE train`
// on one or several hosts (algo-1..algo-N on a private network, each with its
// own resourceconfig.json), stops containers with SIGTERM then SIGKILL after
// a grace period, runs `IMAGE serve` with the model mounted read-only and
// polls /ping with SageMaker's limits.
//
// Containers run through a Backend: create, start, wait, signal, exec,
// logs, ports, networks, remove. DockerBackend drives the Docker Engine API
// with settings passed on each call (no process environment, no global
// logger); package platform/tcbackend does the same through testcontainers-go
// (see there for when to choose it); package platform/platformtest plays the
// engine in memory, so the platform's own logic is tested without Docker.
// Everything the platform creates carries the engine's labels; Engine.Sweep
// removes what an interrupted run left behind. The conformance suite and the
// local runners build on this package.
package platform
