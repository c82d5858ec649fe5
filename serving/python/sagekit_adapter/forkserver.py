r"""The fork server: the app loaded once, every worker forked from it.

With --fork-server, the process loads the app once and then forks every
worker from it when sagekit-runtime asks, so that the workers share the
loaded modules and model copy-on-write (gunicorn's --preload). It talks to
the runtime over the unix socket on fd 3, one line a message:

  fork server -> runtime   ready                  the app is loaded
  runtime -> fork server   spawn ID\tKEY=VALUE...  with the worker's stdout and
                                                  stderr as SCM_RIGHTS fds
  fork server -> runtime   pid ID PID             the worker is forked
  fork server -> runtime   exit PID STATUS        a worker ended (STATUS as
                                                  waitpid gives it)

A worker is its own process group (the runtime signals the group) and is
killed when the fork server dies. The fork server exits when the runtime
closes its end of the socket.
"""

import os
import socket
import sys

from .loader import load_app, warm_up
from .server import listen, serve

CONTROL_FD = 3


def fork_server(mode, target):
    import gc
    import selectors
    import signal
    ctl = socket.socket(fileno=CONTROL_FD)
    # As the gc module's documentation advises for fork without exec: no
    # collection in the fork server, so that it leaves no freed holes for the
    # workers to fill (and copy), and what it loaded frozen out of the
    # collector's sight, so that the workers' collections do not write to
    # (and copy) the shared pages either.
    gc.disable()
    app = load_app(mode, target)
    if mode == "wsgi":
        warm_up(app)
    # What every worker needs after the fork is loaded before it: ctypes
    # imported in each worker would be about 1.4 MB of pages written there.
    prctl = _prctl()
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signo, frame: None)
    sel = selectors.DefaultSelector()
    sel.register(ctl, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    ctl.sendall(b"ready\n")
    buf = b""
    while True:
        for key, _ in sel.select():
            if key.fileobj is ctl:
                msg, fds, _, _ = socket.recv_fds(ctl, 65536, 2) if hasattr(socket, "recv_fds") else _recv_fds(ctl)
                if not msg:
                    return 0
                buf += msg
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    head, _, envs = line.decode("utf-8").partition("\t")
                    verb, wid = head.split(" ", 1)
                    if verb != "spawn":
                        continue
                    pid = spawn(app, envs, fds, (ctl, sel, wake_r, wake_w), prctl)
                    fds = []
                    ctl.sendall(("pid %s %d\n" % (wid, pid)).encode())
            else:
                os.read(wake_r, 4096)
                reap(ctl)


def _recv_fds(sock):
    """socket.recv_fds for Python 3.8."""
    import array
    fds = array.array("i")
    msg, anc, flags, addr = sock.recvmsg(65536, socket.CMSG_LEN(2 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds), flags, addr


def reap(ctl):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ctl.sendall(("exit %d %d\n" % (pid, status)).encode())


def spawn(app, envs, fds, inherited, prctl=None):
    """Forks one worker with the tab-separated KEY=VALUE settings envs and
    fds as its stdout and stderr; returns its pid. inherited is what the
    worker closes: the control socket, the selector and the wake-up pipe;
    prctl is libc's (see _prctl)."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    # The worker.
    code = 1
    try:
        import signal
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        import gc
        gc.enable()
        os.setpgid(0, 0)
        _die_with_parent(parent, prctl)
        ctl, sel, wake_r, wake_w = inherited
        sel.close()
        ctl.close()
        os.close(wake_r)
        os.close(wake_w)
        if len(fds) == 2:
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            for fd in fds:
                os.close(fd)
        for kv in envs.split("\t") if envs else ():
            k, _, v = kv.partition("=")
            os.environ[k] = v
        serve(app, listen(os.environ["SAGEKIT_WORKER_SOCKET"]))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _prctl():
    """libc's prctl through ctypes, or None where it cannot be had."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


def _die_with_parent(parent, prctl):
    """Asks the kernel to kill this worker when the fork server dies."""
    if prctl is not None:
        try:
            prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
        except Exception:
            pass
    if os.getppid() != parent:
        os._exit(1)
