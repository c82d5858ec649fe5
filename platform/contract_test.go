package platform_test

import (
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/backendtest"
)

// TestDockerBackendContract holds the Engine API backend to the contract
// that platformtest's engine and tcbackend keep too.
func TestDockerBackendContract(t *testing.T) {
	dc := testenv.Docker(t)
	img := backendtest.FixtureImage(t, dc)
	backendtest.Run(t, func(t *testing.T) platform.Backend { return platform.NewDockerBackend(dc, nil) }, backendtest.Options{Image: img})
}
