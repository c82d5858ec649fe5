//go:build !linux

package worker

import (
	"os"
	"os/exec"
	"syscall"
)

// Outside Linux (where images run) workers are signalled one by one.
func setProcessGroup(cmd *exec.Cmd) {}

func signalGroup(pid int, sig syscall.Signal) {
	if pid <= 0 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		if sig == syscall.SIGTERM {
			p.Signal(os.Interrupt)
			return
		}
		p.Kill()
	}
}
