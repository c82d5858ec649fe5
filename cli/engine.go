package cli

import (
	"fmt"

	"github.com/moby/moby/client"
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
