// Package base makes sagekit's local base images from Debian's mirror, with
// no container registry involved: debootstrap writes a bookworm rootfs, a
// chroot apt-get adds packages for the derived images, and
// go-containerregistry assembles the layers into images that are written to
// the Docker Engine with their OS and architecture set.
//
// Images: sagekit/base:bookworm (minbase Debian with ca-certificates),
// sagekit/python:bookworm (python3 with numpy, scipy, pandas and
// scikit-learn from Debian) and sagekit/cuda:bookworm (the CUDA 11.8
// runtime libraries from Debian non-free; no kernel driver). The derived
// images share the base image's layer.
package base
