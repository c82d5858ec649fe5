//go:build unix

package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// A fork server is a worker command that loads the model once and then
// forks each worker from itself when asked, so that the workers share what
// was loaded copy-on-write (gunicorn's --preload). The pool still
// supervises every worker: it learns each one's pid, signals its process
// group, and hears of its exit, so a crashed or hung worker is restarted
// alone. The protocol, one line a message over a unix socket that is the
// command's fd 3:
//
//	server -> pool  ready                  the model is loaded
//	pool -> server  spawn ID\tKEY=VALUE...  with the worker's stdout and stderr
//	                                       as two SCM_RIGHTS file descriptors
//	server -> pool  pid ID PID             the worker is running
//	server -> pool  exit PID STATUS        a worker ended; STATUS as waitpid(2)
//	                                       gives it
//
// A worker makes itself a process group and dies with the server. The
// server exits when the pool closes its end of the socket. serving/python's
// adapter implements the server side.
type forkServer struct {
	p *Pool

	mu  sync.Mutex             // one spawn at a time
	cur atomic.Pointer[fsProc] // the running server, or nil
}

// fsProc is one run of the fork server.
type fsProc struct {
	cmd     *exec.Cmd
	ctl     *net.UnixConn
	ready   chan struct{} // closed at "ready"
	replies chan [2]int   // "pid ID PID"
	exited  chan struct{} // closed once the server is reaped and its socket closed
	exitErr error
	output  sync.WaitGroup

	mu      sync.Mutex
	pending *proc         // the worker being forked, until its pid comes
	procs   map[int]*proc // by pid
	dead    bool
}

// ensure returns the running fork server, starting one when there is none.
// Called with fs.mu held.
func (fs *forkServer) ensure(ctx context.Context) (*fsProc, error) {
	if s := fs.cur.Load(); s != nil {
		select {
		case <-s.exited:
		default:
			return s, nil
		}
		fs.cur.Store(nil)
	}
	s, err := fs.start()
	if err != nil {
		return nil, err
	}
	select {
	case <-s.ready:
		fs.cur.Store(s)
		return s, nil
	case <-s.exited:
		s.output.Wait()
		return nil, fmt.Errorf("the worker fork server exited before it was ready (%s): see its output above", describeExit(s.exitErr))
	case <-ctx.Done():
		s.kill()
		<-s.exited
		return nil, fmt.Errorf("waiting for the worker fork server to load the model: %w", ctx.Err())
	case <-fs.p.stop:
		s.kill()
		<-s.exited
		return nil, errors.New("pool closed")
	}
}

func (fs *forkServer) start() (*fsProc, error) {
	p := fs.p
	syscall.ForkLock.RLock()
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(pair[0])
		syscall.CloseOnExec(pair[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("creating the fork server's socket: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "fork-server"), os.NewFile(uintptr(pair[1]), "fork-server-peer")
	defer theirs.Close()
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("creating the fork server's socket: %w", err)
	}
	ctl := fc.(*net.UnixConn)

	cmd := exec.Command(p.command[0], p.command[1:]...)
	cmd.Dir = p.o.dir
	env := p.o.env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = mergeEnv(env, []string{optml.EnvModelDir + "=" + p.modelDir})
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	setProcessGroup(cmd)
	s := &fsProc{cmd: cmd, ctl: ctl, ready: make(chan struct{}), replies: make(chan [2]int, 1), exited: make(chan struct{}), procs: map[int]*proc{}}
	if err := startWithOutput(cmd, &s.output, p.o.stdout, p.o.stderr); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("starting the worker fork server (%s): %w", strings.Join(p.command, " "), err)
	}
	reaped := make(chan struct{})
	go func() {
		s.exitErr = cmd.Wait()
		close(reaped)
	}()
	go s.read(reaped)
	return s, nil
}

// read handles the server's messages until its socket closes, then marks
// every worker it forked as exited.
func (s *fsProc) read(reaped <-chan struct{}) {
	br := bufio.NewReader(s.ctl)
	readyOnce := sync.Once{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "ready":
			readyOnce.Do(func() { close(s.ready) })
		case len(f) == 3 && f[0] == "pid":
			id, err1 := strconv.Atoi(f[1])
			pid, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				// Known by pid before the next message, which may be its exit.
				s.mu.Lock()
				if pr := s.pending; pr != nil && pr.id == id {
					pr.pid = pid
					s.procs[pid] = pr
					s.pending = nil
				}
				s.mu.Unlock()
				s.replies <- [2]int{id, pid}
			}
		case len(f) == 3 && f[0] == "exit":
			pid, err1 := strconv.Atoi(f[1])
			status, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				s.mu.Lock()
				pr := s.procs[pid]
				delete(s.procs, pid)
				s.mu.Unlock()
				if pr != nil {
					pr.exitErr = waitStatusError(syscall.WaitStatus(status))
					close(pr.exited)
				}
			}
		}
	}
	// The server is gone, and with it (PR_SET_PDEATHSIG) its workers; any
	// still running are killed so that none serves unsupervised.
	s.ctl.Close()
	s.mu.Lock()
	s.dead = true
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for pid, pr := range procs {
		signalGroup(pid, syscall.SIGKILL)
		pr.exitErr = errors.New("the worker fork server exited")
		close(pr.exited)
	}
	// A server ending on its own (an app that fails to import, say) closes
	// its socket while the interpreter shuts down, a moment before it
	// exits: wait that moment, so that its own exit status is what gets
	// reported rather than the kill.
	select {
	case <-reaped:
	case <-time.After(fsExitGrace):
	}
	s.kill() // the server if it still runs, and anything left in its group
	<-reaped
	wakeOutput()
	close(s.exited)
}

// fsExitGrace is how long a fork server that closed its socket gets to
// exit by itself.
const fsExitGrace = 2 * time.Second

func (s *fsProc) kill() { signalGroup(s.cmd.Process.Pid, syscall.SIGKILL) }

// spawn forks worker i from the fork server, with extra in its environment.
func (fs *forkServer) spawn(ctx context.Context, i int, sock string, extra []string) (*proc, error) {
	p := fs.p
	fs.mu.Lock()
	defer fs.mu.Unlock()
	s, err := fs.ensure(ctx)
	if err != nil {
		return nil, err
	}
	for _, kv := range extra {
		if strings.ContainsAny(kv, "\t\n") {
			return nil, fmt.Errorf("worker setting %q holds a tab or newline", kv)
		}
	}
	pr := &proc{id: i, sock: sock, exited: make(chan struct{})}
	outR, outW, err := newOutputPipe()
	if err != nil {
		return nil, fmt.Errorf("creating a pipe for worker %d: %w", i, err)
	}
	errR, errW, err := newOutputPipe()
	if err != nil {
		outR.close()
		outW.Close()
		return nil, fmt.Errorf("creating a pipe for worker %d: %w", i, err)
	}
	select {
	case <-s.replies: // a late answer to a spawn that timed out
	default:
	}
	s.mu.Lock()
	s.pending = pr
	s.mu.Unlock()
	msg := "spawn " + strconv.Itoa(i) + "\t" + strings.Join(extra, "\t") + "\n"
	rights := syscall.UnixRights(int(outW.Fd()), int(errW.Fd()))
	s.ctl.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, _, err = s.ctl.WriteMsgUnix([]byte(msg), rights, nil)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.close()
		errR.close()
		return nil, fmt.Errorf("asking the fork server for worker %d: %w", i, err)
	}
	var reply [2]int
	select {
	case reply = <-s.replies:
	case <-s.exited:
	case <-ctx.Done():
	case <-p.stop:
	}
	s.mu.Lock()
	s.pending = nil
	s.mu.Unlock()
	if reply[0] != i || reply[1] <= 0 {
		outR.close()
		errR.close()
		select {
		case <-s.exited:
			return nil, fmt.Errorf("the worker fork server exited while forking worker %d (%s)", i, describeExit(s.exitErr))
		default:
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the worker fork server did not fork worker %d: %w", i, ctx.Err())
		}
		if p.stopping() {
			return nil, errors.New("pool closed")
		}
		return nil, fmt.Errorf("the worker fork server answered %v for worker %d", reply, i)
	}
	pr.started = time.Now()
	pr.output.Add(2)
	follow(outR, p.o.stdout, &pr.output)
	follow(errR, p.o.stderr, &pr.output)
	return pr, nil
}

// close ends the fork server once its workers are gone: closing its socket
// makes it exit; SIGKILL when ctx ends first.
func (fs *forkServer) close(ctx context.Context) {
	s := fs.cur.Swap(nil)
	if s == nil {
		return
	}
	s.ctl.CloseWrite()
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.kill()
		<-s.exited
	}
	done := make(chan struct{})
	go func() { s.output.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// abort kills the running fork server, if any; its workers are then marked
// exited.
func (fs *forkServer) abort() {
	if s := fs.cur.Load(); s != nil {
		s.kill()
	}
}

// waitStatusError describes a wait status as exec.Cmd.Wait's error does:
// nil for exit status 0.
func waitStatusError(ws syscall.WaitStatus) error {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Errorf("signal: %s", ws.Signal())
	}
	return fmt.Errorf("wait status %#x", int(ws))
}
