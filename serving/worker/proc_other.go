//go:build !linux

package worker

import (
	"os"
	"os/exec"
)

// Outside Linux (where images run) workers are signalled one by one.
func setProcessGroup(cmd *exec.Cmd) {}

func termGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Signal(os.Interrupt)
	}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}
