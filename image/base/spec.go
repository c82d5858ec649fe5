package base

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Suite is the Debian release the images are built from.
const Suite = "bookworm"

// DefaultMirror is Debian's mirror network.
const DefaultMirror = "http://deb.debian.org/debian"

// Spec describes one base image.
type Spec struct {
	// Key selects the image with --only.
	Key string
	// Ref is the image's name in the Engine.
	Ref string
	// Packages are installed with apt-get on top of the base rootfs; none
	// for the base image itself.
	Packages []string
	// Components are the archive components apt needs, besides main.
	Components []string
	// Stubs are packages replaced by empty stand-ins before installing:
	// dependencies Debian declares that the image never uses at run time.
	Stubs []string
	// Arches limits the architectures the image exists for (nil: all).
	Arches []string
	// Env is added to the image config.
	Env []string
}

// Specs are the images `sagekit base` makes, base first.
var Specs = []Spec{
	{Key: "base", Ref: "sagekit/base:" + Suite},
	{
		Key: "python", Ref: "sagekit/python:" + Suite,
		// python3-pip installs a code directory's requirements.txt, as the
		// SageMaker toolkits do (from a local wheel house when offline).
		Packages: []string{"python3", "python3-pip", "python3-numpy", "python3-scipy", "python3-pandas", "python3-sklearn"},
		// bookworm's python3-scipy depends on pythran, a compiler that pulls
		// in g++, boost and the Python headers (about 400 MB); scipy's
		// compiled modules do not need it at run time.
		Stubs: []string{"python3-pythran"},
		Env:   []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"},
	},
	{
		// Debian non-free carries the CUDA 11.8 runtime (as in NVIDIA's
		// cuda:11.8.0-base images: cudart only; libcublas11 and friends are
		// there too, at 0.6 GB). The driver (libcuda.so) comes from the
		// host through the NVIDIA container toolkit and is never installed.
		Key: "cuda", Ref: "sagekit/cuda:" + Suite,
		Packages:   []string{"libcudart11.0"},
		Components: []string{"non-free"},
		Arches:     []string{"amd64"},
		Env: []string{
			"NVIDIA_VISIBLE_DEVICES=all",
			"NVIDIA_DRIVER_CAPABILITIES=compute,utility",
			"LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
		},
	},
}

// Fingerprint identifies what s puts in its image: an image or a cached
// layer made from another fingerprint is made again.
func (s Spec) Fingerprint() string {
	h := sha256.New()
	for _, part := range [][]string{{s.Ref}, s.Packages, s.Components, s.Stubs, s.Arches, s.Env} {
		fmt.Fprintf(h, "%q\n", part)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Lookup returns the spec with key k.
func Lookup(k string) (Spec, bool) {
	for _, s := range Specs {
		if s.Key == k {
			return s, true
		}
	}
	return Spec{}, false
}

func (s Spec) supports(arch string) bool {
	if s.Arches == nil {
		return true
	}
	for _, a := range s.Arches {
		if a == arch {
			return true
		}
	}
	return false
}
