// Package platform plays the SageMaker side of the container contract on the
// local container engine: it lays out /opt/ml on the host, runs `IMAGE train`
// on one or several hosts (algo-1..algo-N on a private network, each with its
// own resourceconfig.json), stops containers with SIGTERM then SIGKILL after
// a grace period, runs `IMAGE serve` with the model mounted read-only and
// polls /ping with SageMaker's limits.
//
// Containers are run with testcontainers-go, with its Ryuk reaper off (it
// needs a registry). Everything the platform creates carries the engine's
// labels; Engine.Sweep removes what an interrupted run left behind. The
// conformance suite and the local runners build on this package.
package platform
