package tcbackend_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/backendtest"
	"github.com/sagekit/sagekit/platform/tcbackend"
)

// TestMissingImage: an image the engine lacks is pulled, and a pull that
// cannot succeed ends the create with the pull's error, not a container.
func TestMissingImage(t *testing.T) {
	testenv.Docker(t)
	b, err := tcbackend.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	id, err := b.Create(ctx, platform.ContainerSpec{Image: "127.0.0.1:1/sagekit-backendtest/missing:none", Labels: map[string]string{backendtest.Label: t.Name()}})
	t.Logf("Create took %v: %v", time.Since(start), err)
	if err == nil {
		b.Remove(context.WithoutCancel(ctx), id)
		t.Fatal("Create of an image no registry has = nil, want the pull's error")
	}
	if !strings.Contains(err.Error(), "pulling 127.0.0.1:1/sagekit-backendtest/missing:none") {
		t.Errorf("Create = %v, want it to say the pull failed", err)
	}
}
