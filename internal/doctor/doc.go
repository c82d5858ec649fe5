// Package doctor checks that a machine has what sagekit needs: the
// container engine, BuildKit, the base images, a GPU runtime, AWS
// credentials and a region. Each finding says the command that fixes it.
package doctor
