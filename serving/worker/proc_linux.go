//go:build linux

package worker

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the worker in its own process group, so that a
// kill reaches whatever it started (a shell, a Python multiprocessing pool),
// and dies with the runtime even if the runtime is killed outright.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup signals the process group that pid leads, or pid alone when
// that fails.
func signalGroup(pid int, sig syscall.Signal) {
	if pid <= 0 {
		return
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		syscall.Kill(pid, sig)
	}
}
