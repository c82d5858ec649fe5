// Package tcbackend runs the platform's containers through
// testcontainers-go: a platform.Backend whose containers are created with
// testcontainers.GenericContainer, whose networks come from its network
// package, and whose exec, logs and ports go through its container type.
//
// Choose it over platform.DockerBackend when what a run leaves must not
// outlive the process: with testcontainers' reaper (Ryuk) on, the
// containers and networks of a process that is killed (SIGKILL, a crashed
// CI runner) are removed by the reaper once the process is gone, where
// DockerBackend relies on Engine.Sweep at the next start. DockerBackend is
// the default: it needs nothing but the Engine API, no reaper image, and
// pulls with the go-containerregistry keychain. The sagekit commands use it
// when SAGEKIT_CONTAINER_BACKEND=testcontainers, handing it to
// platform.New with platform.WithBackend beside the Docker client of
// platform.WithClient, which still inspects images and removes what dead
// processes left.
//
// Ryuk follows testcontainers' own configuration, read once per process
// from TESTCONTAINERS_RYUK_DISABLED or ~/.testcontainers.properties
// (ryuk.disabled=true); this package never sets it. Ryuk runs the
// testcontainers/ryuk image, so an offline machine sets
// TESTCONTAINERS_RYUK_DISABLED=true (as .ci/run does) and cleans up with
// Engine.Sweep as with DockerBackend.
//
// Each request carries the logger given with WithLogger (discard by
// default); testcontainers' process-wide logger is left alone. It still
// carries what testcontainers reports outside any request (its connection
// banner, the reaper's start): a program that wants those quiet sets it
// once in main with log.SetDefault from testcontainers-go/log.
package tcbackend
