package rawio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// unixPair returns a DialUnix connection and the listener's end of it.
func unixPair(t *testing.T) (*unixConn, net.Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := DialUnix(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c.(*unixConn), peer
}

func TestDialUnixRoundTrip(t *testing.T) {
	c, peer := unixPair(t)
	// Larger than the socket's buffer: Write waits for room.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18)
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(peer); got <- b }()
	if n, err := c.Write(want); err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want %d", len(b), len(want))
	}
	go func() { peer.Write(want); peer.Close() }()
	b, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("ReadAll = %d bytes, %v; want %d", len(b), err, len(want))
	}
}

// TestDialUnixNoOutputWakeUp is the reason DialUnix exists: the peer reading
// what was written must not make the connection's poller ready.
func TestDialUnixNoOutputWakeUp(t *testing.T) {
	c, peer := unixPair(t)
	if _, err := c.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(peer, make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	evs := make([]syscall.EpollEvent, 4)
	if n, err := syscall.EpollWait(int(c.ep.Fd()), evs, 0); n != 0 || err != nil {
		t.Fatalf("after the peer read: %d events (%#v), %v; want none", n, evs[:max(n, 0)], err)
	}
	peer.Write([]byte("answer"))
	if n, _ := syscall.EpollWait(int(c.ep.Fd()), evs, 1000); n != 1 || evs[0].Events&syscall.EPOLLIN == 0 {
		t.Fatalf("after the peer wrote: %d events (%#v), want its input", n, evs[:max(n, 0)])
	}
}

func TestDialUnixDeadlineAndClose(t *testing.T) {
	c, peer := unixPair(t)
	c.SetDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want a timeout", err)
	}
	c.SetDeadline(time.Time{})
	peer.Close()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v, want EOF", n, err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
	}
}

func TestDialUnixErrors(t *testing.T) {
	_, err := DialUnix(context.Background(), filepath.Join(t.TempDir(), "none"))
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("DialUnix to no socket = %v, want a dial *net.OpError with ENOENT", err)
	}
}
