//go:build linux

package rawio

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DialUnix connects to the unix stream socket at path. The connection
// waits for its peer's data through an epoll instance of its own that
// watches the socket for input only; that instance is what sits in Go's
// poller.
//
// Go's poller watches every socket for output as well as input, edge
// triggered, and a unix socket signals output room each time its peer
// reads: a worker that takes in its request wakes a front that has gone to
// sleep for nothing, one wake-up per request on top of the two every
// request needs (the client's request, the worker's answer). Here that
// signal is filtered out in the kernel, before it reaches the poller.
func DialUnix(ctx context.Context, path string) (net.Conn, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, dialError(path, os.NewSyscallError("socket", err))
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		syscall.Close(fd)
		return nil, dialError(path, os.NewSyscallError("epoll_create1", err))
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(fd)
		syscall.Close(epfd)
		return nil, dialError(path, os.NewSyscallError("fcntl", err))
	}
	// Non-blocking, so os.NewFile puts it in the poller.
	ep := os.NewFile(uintptr(epfd), "epoll")
	c := &unixConn{fd: fd, ep: ep, path: path}
	if c.rc, err = ep.SyscallConn(); err != nil {
		c.Close()
		return nil, dialError(path, err)
	}
	c.readf, c.writef = c.read, c.write

	err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
	if errors.Is(err, syscall.EAGAIN) {
		// The listener's backlog is full: wait for room.
		err = c.waitConnect(ctx)
	}
	if err == nil {
		err = c.watch(syscall.EPOLL_CTL_ADD, syscall.EPOLLIN)
	}
	if err != nil {
		c.Close()
		return nil, dialError(path, err)
	}
	return c, nil
}

func dialError(path string, err error) error {
	return &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: err}
}

// unixConn is a connected unix stream socket outside Go's poller.
type unixConn struct {
	fd   int
	ep   *os.File // the connection's own epoll instance, in Go's poller
	rc   syscall.RawConn
	path string

	closeOnce sync.Once
	closed    atomic.Bool

	// One Read and one Write at a time, each with its state here so that
	// the functions handed to rc are made once.
	rmu   sync.Mutex
	rbuf  []byte
	rn    int
	rerr  syscall.Errno
	readf func(uintptr) bool

	wmu    sync.Mutex
	wbuf   []byte
	wn     int
	werr   syscall.Errno
	writef func(uintptr) bool
}

// epollET is EPOLLET as a uint32, which package syscall spells as a
// negative number on some architectures and a positive one on others.
const epollET = 1 << 31

// watch sets the events the epoll instance reports for the socket.
func (c *unixConn) watch(op int, events uint32) error {
	ev := syscall.EpollEvent{Events: events | syscall.EPOLLRDHUP | epollET, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(int(c.ep.Fd()), op, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (c *unixConn) waitConnect(ctx context.Context) error {
	if err := c.watch(syscall.EPOLL_CTL_ADD, syscall.EPOLLOUT); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.ep.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.ep.SetReadDeadline(past) })
	defer stop()
	for {
		err := syscall.Connect(c.fd, &syscall.SockaddrUnix{Name: c.path})
		if !errors.Is(err, syscall.EAGAIN) {
			if err == nil {
				err = syscall.EpollCtl(int(c.ep.Fd()), syscall.EPOLL_CTL_DEL, c.fd, nil)
			}
			c.ep.SetReadDeadline(time.Time{})
			return err
		}
		if err := c.rc.Read(func(uintptr) bool { return false }); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// past is a deadline already over.
var past = time.Unix(1, 0)

func (c *unixConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.readf)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// read is one attempt of Read on the socket; false waits for the epoll
// instance to report input.
func (c *unixConn) read(uintptr) bool {
	n, errno, ready := readOnce(c.fd, c.rbuf)
	c.rn, c.rerr = n, errno
	return ready
}

func (c *unixConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = b, 0, 0
	if c.write(0) {
		n, errno := c.wn, c.werr
		c.wbuf = nil
		if errno != 0 {
			return n, c.opError("write", os.NewSyscallError("write", errno))
		}
		return n, nil
	}
	// The peer's buffer is full: wait for room, through the epoll
	// instance, watching for output only while this write lasts.
	if err := c.watch(syscall.EPOLL_CTL_MOD, syscall.EPOLLOUT); err != nil {
		return c.wn, c.opError("write", err)
	}
	err := c.rc.Read(c.writef)
	if werr := c.watch(syscall.EPOLL_CTL_MOD, syscall.EPOLLIN); err == nil && werr != nil {
		err = werr
	}
	n, errno := c.wn, c.werr
	c.wbuf = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// write writes what is left of wbuf; false waits for room.
func (c *unixConn) write(uintptr) bool {
	errno, done := writeRest(c.fd, c.wbuf, &c.wn)
	c.werr = errno
	return done
}

// Close closes the socket and its epoll instance. Call it only when no
// Read or Write is running: a deadline in the past ends one that waits.
func (c *unixConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		err = c.ep.Close()
		if cerr := syscall.Close(c.fd); err == nil && cerr != nil {
			err = os.NewSyscallError("close", cerr)
		}
	})
	return err
}

func (c *unixConn) CloseWrite() error {
	return os.NewSyscallError("shutdown", syscall.Shutdown(c.fd, syscall.SHUT_WR))
}

// Every wait goes through the epoll instance's reads, so one deadline
// bounds reads and writes alike.
func (c *unixConn) SetDeadline(t time.Time) error      { return c.ep.SetReadDeadline(t) }
func (c *unixConn) SetReadDeadline(t time.Time) error  { return c.ep.SetReadDeadline(t) }
func (c *unixConn) SetWriteDeadline(t time.Time) error { return c.ep.SetReadDeadline(t) }

func (c *unixConn) LocalAddr() net.Addr  { return &net.UnixAddr{Net: "unix"} }
func (c *unixConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: c.path, Net: "unix"} }

func (c *unixConn) opError(op string, err error) error {
	if c.closed.Load() {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "unix", Addr: c.RemoteAddr(), Err: err}
}
