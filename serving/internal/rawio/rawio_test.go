package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a connection over network ("tcp" or "unix"),
// the accepted end through WrapListener and the dialed end through Wrap.
func pair(t *testing.T, network string) (server, client net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	ln = WrapListener(ln)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client = Wrap(c)
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestWrapped(t *testing.T) {
	server, client := pair(t, "tcp")
	for _, c := range []net.Conn{server, client} {
		_, plain := c.(*net.TCPConn)
		if plain == enabled {
			t.Errorf("got a %T, want it wrapped: %v", c, enabled)
		}
		if _, ok := c.(interface{ CloseWrite() error }); !ok {
			t.Errorf("%T has no CloseWrite", c)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			server, client := pair(t, network)
			// Larger than a socket buffer: the writer waits for the reader.
			want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18)
			errc := make(chan error, 1)
			go func() {
				n, err := client.Write(want)
				if err == nil && n != len(want) {
					err = io.ErrShortWrite
				}
				if err == nil {
					err = client.(interface{ CloseWrite() error }).CloseWrite()
				}
				errc <- err
			}()
			got, err := io.ReadAll(server)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Write: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want the %d written", len(got), len(want))
			}
			if n, err := server.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("Read after the peer's CloseWrite = %d, %v, want 0, EOF", n, err)
			}
		})
	}
}

func TestReadDeadline(t *testing.T) {
	server, _ := pair(t, "tcp")
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := server.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("Read past the deadline = %#v, want a *net.OpError with Op read", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Read returned after %s, want about 20ms", d)
	}
	// A deadline in the past interrupts a Read that waits.
	server.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := server.Read(make([]byte, 10)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	server.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("interrupted Read = %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after its deadline moved to the past")
	}
}

func TestClosed(t *testing.T) {
	server, client := pair(t, "unix")
	server.Close()
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read on a closed connection = %v, want net.ErrClosed", err)
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write on a closed connection = %v, want net.ErrClosed", err)
	}
	// The peer sees the end, then a write fails with a reset or a broken pipe.
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read from a closed peer = %d, %v, want 0, EOF", n, err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = client.Write([]byte("x"))
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Errorf("Write to a closed peer = %v, want a *net.OpError with Op write", err)
	}
}

func TestEmpty(t *testing.T) {
	server, client := pair(t, "tcp")
	if n, err := client.Write(nil); n != 0 || err != nil {
		t.Errorf("Write(nil) = %d, %v, want 0, nil", n, err)
	}
	if n, err := server.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v, want 0, nil", n, err)
	}
}

func TestReadFD(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	buf := make([]byte, 8)
	if n, err := ReadFD(p[0], buf); err != syscall.EAGAIN {
		t.Errorf("ReadFD of an empty pipe = %d, %v, want EAGAIN", n, err)
	}
	syscall.Write(p[1], []byte("line\n"))
	if n, err := ReadFD(p[0], buf); err != nil || string(buf[:n]) != "line\n" {
		t.Errorf("ReadFD = %q, %v, want \"line\\n\"", buf[:max(n, 0)], err)
	}
	syscall.Close(p[1])
	if n, err := ReadFD(p[0], buf); n != 0 || err != nil {
		t.Errorf("ReadFD after the write end closed = %d, %v, want 0, nil", n, err)
	}
	if n, err := ReadFD(-1, buf); err != syscall.EBADF {
		t.Errorf("ReadFD(-1) = %d, %v, want EBADF", n, err)
	}
}

func TestTry(t *testing.T) {
	server, client := pair(t, "tcp")
	tr, ok := server.(Trier)
	if !ok {
		if enabled {
			t.Fatalf("%T is not a Trier", server)
		}
		t.Skip("raw calls are off in this build: no Trier to test")
	}
	buf := make([]byte, 16)
	if n, err := tr.TryRead(buf); n != 0 || err != nil {
		t.Fatalf("TryRead with nothing sent = %d, %v, want 0, nil", n, err)
	}
	client.Write([]byte("hello"))
	var n int
	for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); {
		var err error
		if n, err = tr.TryRead(buf); err != nil {
			t.Fatal(err)
		}
	}
	if string(buf[:n]) != "hello" {
		t.Fatalf("TryRead = %q, want hello", buf[:n])
	}
	if n, err := tr.TryWrite([]byte("world")); n != 5 || err != nil {
		t.Fatalf("TryWrite = %d, %v, want 5, nil", n, err)
	}
	if _, err := io.ReadFull(client, buf[:5]); err != nil || string(buf[:5]) != "world" {
		t.Fatalf("peer read %q, %v", buf[:5], err)
	}
	// A full socket takes part of a large write, then nothing.
	big := make([]byte, 64<<20)
	n, err := tr.TryWrite(big)
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("TryWrite of 64 MiB to a peer that does not read = %d, %v, want part of it", n, err)
	}
	if n, err := tr.TryWrite(big); n != 0 || err != nil {
		t.Fatalf("TryWrite to a full socket = %d, %v, want 0, nil", n, err)
	}
	client.(interface{ CloseWrite() error }).CloseWrite()
	for deadline := time.Now().Add(5 * time.Second); ; {
		n, err := tr.TryRead(buf)
		if err == io.EOF {
			break
		}
		if err != nil || n != 0 || time.Now().After(deadline) {
			t.Fatalf("TryRead after the peer's CloseWrite = %d, %v, want 0, EOF", n, err)
		}
	}
}
