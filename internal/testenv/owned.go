package testenv

import (
	"os/exec"
	"runtime"
)

// ownedProcess is a helper process (moto_server, a Python interpreter) a
// test binary keeps for many tests. On Linux it dies with the test binary,
// even when a panic or a timeout ends the binary before its cleanup runs.
type ownedProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startOwned starts cmd. The process is started, and waited for, from one
// goroutine locked to its thread: the parent-death signal
// (setParentDeathSignal) fires when the thread that started the process
// ends, so that thread lives as long as the process.
func startOwned(cmd *exec.Cmd) (*ownedProcess, error) {
	setParentDeathSignal(cmd)
	p := &ownedProcess{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// done reports whether the process has exited.
func (p *ownedProcess) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill ends the process and waits for it.
func (p *ownedProcess) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}
