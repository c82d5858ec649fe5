package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/tcbackend"
)

// engineClient is how every command reaches the Docker Engine: the client
// DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH describe, read here at
// the edge and handed to the libraries. The caller closes it.
func engineClient() (*client.Client, error) {
	dc, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("configuring the Docker client (check DOCKER_HOST): %w", err)
	}
	return dc, nil
}

// envContainerBackend chooses what creates the containers of the commands
// that run them (run, local, test, evaluate): docker (the default) or
// testcontainers. Read here at the edge, once per command.
const envContainerBackend = "SAGEKIT_CONTAINER_BACKEND"

// containerBackend is a value of SAGEKIT_CONTAINER_BACKEND.
type containerBackend string

const (
	// backendDocker creates containers through the Engine API
	// (platform.DockerBackend).
	backendDocker containerBackend = "docker"
	// backendTestcontainers creates them through testcontainers-go
	// (package platform/tcbackend), whose reaper Ryuk removes what a
	// killed process left, unless TESTCONTAINERS_RYUK_DISABLED=true.
	backendTestcontainers containerBackend = "testcontainers"
)

// containerBackendFromEnv reads SAGEKIT_CONTAINER_BACKEND; unset or empty
// is docker. A command returns its error as a usage error.
func containerBackendFromEnv(getenv func(string) string) (containerBackend, error) {
	switch v := containerBackend(getenv(envContainerBackend)); v {
	case "":
		return backendDocker, nil
	case backendDocker, backendTestcontainers:
		return v, nil
	default:
		return "", fmt.Errorf("%s=%q: want %s or %s", envContainerBackend, string(v), backendDocker, backendTestcontainers)
	}
}

// containerEngine is one command's way to the container engine: the
// Docker client (images, Info, removing what dead processes left) and the
// backend that creates the containers, handed to platform.New as options.
type containerEngine struct {
	dc *client.Client
	tc *tcbackend.Backend // nil: platform's DockerBackend over dc
}

// openEngine connects to the Docker Engine and, for testcontainers, makes
// its backend, which reports each request to log at debug level. The
// caller closes it after the engines made with its options.
func openEngine(ctx context.Context, b containerBackend, log *slog.Logger) (*containerEngine, error) {
	dc, err := engineClient()
	if err != nil {
		return nil, err
	}
	c := &containerEngine{dc: dc}
	if b == backendTestcontainers {
		if c.tc, err = tcbackend.New(ctx, tcbackend.WithLogger(log)); err != nil {
			dc.Close()
			return nil, fmt.Errorf("%s=%s: %w", envContainerBackend, b, err)
		}
	}
	return c, nil
}

// options are platform.New's options for this engine.
func (c *containerEngine) options() []platform.Option {
	opts := []platform.Option{platform.WithClient(c.dc)}
	if c.tc != nil {
		opts = append(opts, platform.WithBackend(c.tc))
	}
	return opts
}

// Close releases the backend and the client.
func (c *containerEngine) Close() error {
	var err error
	if c.tc != nil {
		err = c.tc.Close()
	}
	return errors.Join(err, c.dc.Close())
}

// localServer starts a local.Server, the engine of the run commands, on
// the backend b; the returned function closes its engine connection, after
// the server's Close.
func localServer(ctx context.Context, b containerBackend, state string, log *slog.Logger, opts ...local.Option) (*local.Server, func(), error) {
	c, err := openEngine(ctx, b, log)
	if err != nil {
		return nil, nil, err
	}
	srv, err := local.New(ctx, state, append(opts, local.WithLogger(log), local.WithEngineOptions(c.options()...))...)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return srv, func() { c.Close() }, nil
}
