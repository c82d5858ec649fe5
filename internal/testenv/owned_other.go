//go:build !linux

package testenv

import "os/exec"

// setParentDeathSignal does nothing where there is no parent-death signal:
// MotoMain still stops the processes when the tests end normally.
func setParentDeathSignal(cmd *exec.Cmd) {}
