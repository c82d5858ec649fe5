//go:build linux && !race

package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

const enabled = true

type syscallConn interface {
	net.Conn
	SyscallConn() (syscall.RawConn, error)
}

// conn is a net.Conn whose Read and Write make raw non-blocking calls;
// deadlines, Close and addresses are the wrapped connection's. The calls'
// arguments and results live in the struct, and the functions handed to
// the RawConn are made once, so a Read or Write allocates nothing.
type conn struct {
	syscallConn
	rc syscall.RawConn

	rmu   sync.Mutex // one Read at a time owns rbuf, rn, rerr
	rbuf  []byte
	rn    int
	rerr  syscall.Errno
	readf func(fd uintptr) bool
	tryrf func(fd uintptr) bool

	wmu    sync.Mutex // one Write at a time owns wbuf, wn, werr
	wbuf   []byte
	wn     int
	werr   syscall.Errno
	writef func(fd uintptr) bool
	trywf  func(fd uintptr) bool
}

// closeWriter is what net/http looks for to half-close a TCP connection.
type closeWriter interface{ CloseWrite() error }

// halfConn is conn for a connection that can half-close (TCP, unix).
type halfConn struct{ *conn }

func (c halfConn) CloseWrite() error { return c.syscallConn.(closeWriter).CloseWrite() }

// Wrap returns c reading and writing with raw non-blocking calls, or c
// itself when it has no file descriptor to make them on.
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscallConn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	w := &conn{syscallConn: sc, rc: rc}
	w.readf, w.writef = w.read, w.write
	w.tryrf, w.trywf = w.tryRead, w.tryWrite
	if _, ok := c.(closeWriter); ok {
		return halfConn{w}
	}
	return w
}

func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return c.readWith(b, c.readf, false)
}

// TryRead reads what has already arrived, without waiting: 0, nil when
// nothing has, 0, io.EOF when the peer has closed. A read deadline that has
// passed makes it fail as Read does.
func (c *conn) TryRead(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return c.readWith(b, c.tryrf, true)
}

// readWith reads into b through the poller with f (read or tryRead); try
// turns EAGAIN into 0, nil.
func (c *conn) readWith(b []byte, f func(uintptr) bool, try bool) (int, error) {
	if len(b) > maxRW {
		b = b[:maxRW]
	}
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(f)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	c.rmu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case try && errno == syscall.EAGAIN:
		return 0, nil
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// read is one attempt of Read; false asks the poller to wait for data.
func (c *conn) read(fd uintptr) bool {
	n, errno, ready := readOnce(int(fd), c.rbuf)
	c.rn, c.rerr = n, errno
	return ready
}

// tryRead is read that never asks the poller to wait.
func (c *conn) tryRead(fd uintptr) bool {
	if !c.read(fd) {
		c.rerr = syscall.EAGAIN
	}
	return true
}

func (c *conn) Write(b []byte) (int, error) { return c.writeWith(b, c.writef) }

// TryWrite writes what the socket takes without waiting and returns how
// much that was.
func (c *conn) TryWrite(b []byte) (int, error) { return c.writeWith(b, c.trywf) }

// writeWith writes b through the poller with f (write or tryWrite).
func (c *conn) writeWith(b []byte, f func(uintptr) bool) (int, error) {
	c.wmu.Lock()
	c.wbuf, c.wn, c.werr = b, 0, 0
	err := c.rc.Write(f)
	n, errno := c.wn, c.werr
	c.wbuf = nil
	c.wmu.Unlock()
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// write writes what is left of wbuf; false asks the poller to wait for
// room in the socket.
func (c *conn) write(fd uintptr) bool {
	errno, done := writeRest(int(fd), c.wbuf, &c.wn)
	c.werr = errno
	return done
}

// tryWrite is write that never asks the poller to wait.
func (c *conn) tryWrite(fd uintptr) bool {
	c.write(fd)
	return true
}

// opError makes err read as the wrapped connection's own errors do
// (*net.OpError with Op "read" or "write"): net/http tells a timeout, a
// closed connection and a reset apart by them.
func (c *conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// ReadFD reads from the non-blocking file descriptor fd with a raw call:
// syscall.Read's result without its scheduler hand-off. A read that would
// block returns EAGAIN, as syscall.Read does.
func ReadFD(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno := sysRead(fd, p)
	if errno != 0 {
		return -1, errno
	}
	return n, nil
}

// sysRead and sysWrite are read(2) and write(2) as raw calls.
func sysRead(fd int, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}

func sysWrite(fd int, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}
