package base

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPath is the PATH every base image sets.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Layer is one uncompressed layer tar and what made it.
type Layer struct {
	Path      string
	CreatedBy string
}

// Assemble makes an OCI image for linux/arch from layer tars, with PATH,
// env, labels and creation time set in its config. OS and architecture
// are set so the Engine's builder finds the image locally instead of
// going to a registry.
func Assemble(layers []Layer, arch string, env []string, labels map[string]string, created time.Time) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range layers {
		layer, err := tarball.LayerFromFile(l.Path, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", l.Path, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: types.OCILayer,
			History:   v1.History{CreatedBy: l.CreatedBy, Created: v1.Time{Time: created}},
		})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Created = v1.Time{Time: created}
	cf.Config.Env = append([]string{DefaultPath}, env...)
	cf.Config.Cmd = []string{"/bin/bash"}
	cf.Config.Labels = labels
	return mutate.ConfigFile(img, cf)
}
