package platform

import (
	"context"
	"io"
	"net/netip"
	"time"
)

// Backend is the container engine as the platform uses it: create and
// start a container, wait for it, signal it, exec in it, read its logs,
// find its published port, create and remove networks, remove what it
// made. Each call carries everything it needs; a Backend holds no
// process-wide settings. The Docker Engine backend (NewDockerBackend) is the
// default; package platform/tcbackend runs on testcontainers-go, whose
// reaper removes what a killed process left; package platform/platformtest
// has an in-memory one for unit tests. Package platform/backendtest is the
// contract each of them passes.
type Backend interface {
	// Create creates a container (pulling its image when the engine does
	// not have it) and returns its id. It does not start it.
	Create(ctx context.Context, s ContainerSpec) (string, error)
	// Start starts a created container.
	Start(ctx context.Context, id string) error
	// Wait blocks until the container is no longer running and returns
	// how it ended; it returns an error when the container was removed
	// first or ctx ended.
	Wait(ctx context.Context, id string) (Exit, error)
	// Kill sends a signal ("SIGTERM", "SIGKILL") to the container's main
	// process.
	Kill(ctx context.Context, id, signal string) error
	// Exec runs cmd in the running container and returns its exit code and
	// its stdout and stderr, interleaved.
	Exec(ctx context.Context, id string, cmd []string) (int, []byte, error)
	// Logs copies the container's stdout and stderr from its start; with
	// follow it keeps copying until the container exits or ctx ends.
	Logs(ctx context.Context, id string, follow bool, stdout, stderr io.Writer) error
	// Port returns the host port that the container's port ("8080/tcp") is
	// published on.
	Port(ctx context.Context, id, port string) (string, error)
	// CreateNetwork creates a bridge network and returns its name.
	CreateNetwork(ctx context.Context, s NetworkSpec) (string, error)
	// RemoveNetwork removes a network by name.
	RemoveNetwork(ctx context.Context, name string) error
	// Remove force-removes a container, running or not.
	Remove(ctx context.Context, id string) error
	// List returns the containers and networks carrying the label
	// key=value.
	List(ctx context.Context, key, value string) ([]Resource, error)
}

// ContainerSpec is a container to create. As on SageMaker, it has no TTY
// and its stdin is closed.
type ContainerSpec struct {
	Image string
	// Cmd replaces the image's CMD (the entrypoint is kept).
	Cmd    []string
	Env    map[string]string
	Labels map[string]string
	// Hostname, when set, is the container's host name.
	Hostname string
	// Mounts are bind mounts from the engine host.
	Mounts []Mount
	// Ports ("8080/tcp") are published on a random host port, on
	// PublishIP only when it is valid, else on every address.
	Ports     []string
	PublishIP netip.Addr
	// GPU attaches every GPU of the engine.
	GPU bool
	// NoNetwork runs the container without any network.
	NoNetwork bool
	// Network, when set, attaches the container to that network (instead
	// of the default bridge) under a fixed address.
	Network *Attachment
	// ExtraHosts are "name:address" lines added to /etc/hosts.
	ExtraHosts []string
	// CPUShares is the container's CPU weight against other containers
	// when the CPUs are busy (Docker's --cpu-shares); 0 is the engine's
	// default, 1024. It limits nothing on an idle machine.
	CPUShares int64
}

// Mount is a bind mount of Source on the engine host at Target in the
// container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Attachment is a container's place on a network.
type Attachment struct {
	Network string
	// Aliases are the names peers resolve it by.
	Aliases []string
	// IP is its fixed address (unset: the network's choice).
	IP netip.Addr
}

// NetworkSpec is a bridge network to create.
type NetworkSpec struct {
	Labels map[string]string
	// Subnet is the network's address range.
	Subnet netip.Prefix
	// Internal networks have no way out: peers only.
	Internal bool
}

// Exit is how a container ended.
type Exit struct {
	Code int
	// Ran is the time from its start to its exit by the engine's clock,
	// or -1 when unknown.
	Ran time.Duration
}

// Resource is a container or network that Backend.List found.
type Resource struct {
	// Kind is "container" or "network".
	Kind string
	// ID is the container's id or the network's name.
	ID string
}
