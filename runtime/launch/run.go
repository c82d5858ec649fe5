package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/sagekit/sagekit/sdk/optml"
)

// outcome is how the program ended.
type outcome struct {
	code        int
	signal      syscall.Signal // non-zero when a signal killed it
	stopSignal  os.Signal      // the first signal forwarded, if any
	killedByUs  bool           // the grace period ran out
	grace       time.Duration
	argv        []string
	stderrLines []string
}

func run(ctx context.Context, opts Options, p prepared) (int, error) {
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return fail(opts, ExitConfigError, fmt.Errorf("creating the stderr pipe: %w", err))
	}
	cmd := &exec.Cmd{
		Path:        p.path,
		Args:        p.argv,
		Env:         p.env,
		Dir:         p.dir,
		Stdin:       opts.Stdin,
		Stdout:      opts.Stdout,
		Stderr:      stderrW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	opts.Logger.Info("starting the training program", "argv", p.argv, "dir", p.dir)
	if err := cmd.Start(); err != nil {
		stderrR.Close()
		stderrW.Close()
		code := ExitNotExecutable
		if errors.Is(err, os.ErrNotExist) {
			code = ExitProgramNotFound
		}
		return fail(opts, code, fmt.Errorf("starting %s: %w", p.path, err))
	}
	stderrW.Close()
	pid := cmd.Process.Pid

	t := newTail(opts.TailLines, maxTailLine)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyStderr(io.MultiWriter(opts.Stderr, t), stderrR)
	}()

	type waitResult struct {
		ws  syscall.WaitStatus
		err error
	}
	waited := make(chan waitResult, 1)
	go func() {
		ws, err := wait(cmd, pid, opts.ReapOrphans)
		waited <- waitResult{ws, err}
	}()

	out := outcome{argv: p.argv, grace: opts.Grace}
	var graceTimer <-chan time.Time
	stop := func(sig os.Signal) {
		if s, ok := sig.(syscall.Signal); ok {
			// The whole group: a shell script's children must hear it too.
			_ = syscall.Kill(-pid, s)
		}
		if out.stopSignal == nil {
			out.stopSignal = sig
			graceTimer = time.After(opts.Grace)
			opts.Logger.Info("forwarded a stop signal to the training program", "signal", sig, "grace", opts.Grace)
		}
	}
	ctxDone := ctx.Done()
	var res waitResult
loop:
	for {
		select {
		case res = <-waited:
			break loop
		case sig := <-opts.Signals:
			stop(sig)
		case <-ctxDone:
			ctxDone = nil
			stop(syscall.SIGTERM)
		case <-graceTimer:
			graceTimer = nil
			out.killedByUs = true
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			opts.Logger.Info("killed the training program after the grace period", "grace", opts.Grace)
		}
	}

	// What the program started and left running in its process group
	// ends now, as the container's teardown would end it on SageMaker.
	endGroup(pid, opts)

	select {
	case <-copied:
	case <-time.After(drainTimeout):
		stderrR.Close() // a leftover background process holds the pipe
		<-copied
	}
	stderrR.Close()

	if res.err != nil {
		return fail(opts, ExitConfigError, fmt.Errorf("waiting for %s: %w", p.path, res.err))
	}
	switch {
	case res.ws.Exited():
		out.code = res.ws.ExitStatus()
	case res.ws.Signaled():
		out.signal = res.ws.Signal()
		out.code = 128 + int(out.signal)
	default:
		out.code = 1
	}
	out.stderrLines = t.Lines()
	opts.Logger.Info("the training program ended", "code", out.code)

	if out.code == 0 {
		if err := opts.Paths.WriteSuccess(); err != nil {
			return 0, err
		}
		return 0, nil
	}
	if p.failKind != "" {
		// The toolkit: its own failure text, exit 1 whatever the code.
		if err := opts.Paths.WriteFailure(toolkitReason(p.failKind, out)); err != nil && !isExists(err) {
			return 1, err
		}
		return 1, nil
	}
	if err := opts.Paths.WriteFailure(failureReason(out)); err != nil && !isExists(err) {
		return out.code, err
	}
	return out.code, nil
}

// wait waits for the program. As PID 1 it reaps every child, so orphans the
// program leaves behind do not pile up as zombies.
func wait(cmd *exec.Cmd, pid int, reap bool) (syscall.WaitStatus, error) {
	if !reap {
		state, err := cmd.Process.Wait()
		if err != nil {
			return 0, err
		}
		return state.Sys().(syscall.WaitStatus), nil
	}
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if wpid == pid {
			return ws, nil
		}
	}
}

// groupPoll is how often endGroup looks whether the group is gone.
const groupPoll = 20 * time.Millisecond

// endGroup ends the processes still in the program's process group after the
// program exited: SIGTERM, then SIGKILL for those left when the grace
// period ends. The group id cannot be reused while any member lives, so
// nothing else is signalled. As PID 1 the launcher reaps them meanwhile,
// since they are its children now.
func endGroup(pgid int, opts Options) {
	alive := func() bool {
		if opts.ReapOrphans {
			reapExited()
		}
		return syscall.Kill(-pgid, 0) == nil
	}
	if !alive() {
		return
	}
	opts.Logger.Info("ending what the training program left running", "grace", opts.Grace)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(opts.Grace)
	for alive() {
		if time.Now().After(deadline) {
			opts.Logger.Info("killed what the training program left running after the grace period", "grace", opts.Grace)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			deadline = time.Now().Add(drainTimeout)
			for alive() && time.Now().Before(deadline) {
				time.Sleep(groupPoll)
			}
			return
		}
		time.Sleep(groupPoll)
	}
}

// reapExited reaps every child that has exited, without waiting.
func reapExited() {
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || wpid <= 0 {
			return
		}
	}
}

// copyStderr passes every chunk on as soon as it arrives: partial lines
// (progress bars) are not held back.
func copyStderr(w io.Writer, r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// failureReason writes the cause on the first line; SageMaker keeps only the
// first 1024 bytes as FailureReason, so the stderr quote is cut to fit before
// the (possibly long) command line.
func failureReason(o outcome) string {
	var cause, extra string
	switch {
	case o.killedByUs:
		cause = fmt.Sprintf("Stopped: the training program did not exit within %s of %v and was killed with SIGKILL (exit code %d)", o.grace, o.stopSignal, o.code)
	case o.code == 137:
		how := "exited with code 137 (128+9)"
		if o.signal == syscall.SIGKILL {
			how = "was killed by SIGKILL (signal 9), exit code 137"
		}
		cause = "OutOfMemory: the training program " + how + ", most likely by the kernel's out-of-memory killer: use an instance type with more memory or reduce memory use"
		extra = `ExtraInfo "OutOfMemory: Process killed by SIGKILL (signal 9)"` + "\n"
	case o.signal != 0:
		cause = fmt.Sprintf("ExecuteUserScriptError: the training program was killed by signal %d (%v), exit code %d", int(o.signal), o.signal, o.code)
		if o.stopSignal != nil {
			cause += fmt.Sprintf(" after the job was stopped (%v forwarded)", o.stopSignal)
		}
	default:
		cause = fmt.Sprintf("ExecuteUserScriptError: the training program exited with code %d", o.code)
	}
	head := cause + "\nExitCode " + strconv.Itoa(o.code) + "\n"
	budget := optml.FailureReasonMax - len(head) - len(extra) - len("ErrorMessage \"\"\n")
	msg := lastBytes(o.stderrLines, budget)
	return head + "ErrorMessage \"" + msg + "\"\n" + extra + "Command \"" + strings.Join(o.argv, " ") + "\"\n"
}

// lastBytes joins the last lines that fit in budget bytes, cutting the
// oldest one from the front when it does not fit whole.
func lastBytes(lines []string, budget int) string {
	if budget <= 0 {
		return ""
	}
	var kept []string
	size := 0
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		need := len(l)
		if len(kept) > 0 {
			need++ // newline
		}
		if size+need > budget {
			if room := budget - size - (need - len(l)); room > 3 && len(kept) == 0 {
				cut := len(l) - room + 3
				for cut < len(l) && !utf8.RuneStart(l[cut]) {
					cut++
				}
				kept = append(kept, "..."+l[cut:])
			}
			break
		}
		kept = append(kept, l)
		size += need
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	return strings.Join(kept, "\n")
}
