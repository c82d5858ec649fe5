//go:build !linux || race

package rawio

import (
	"net"
	"syscall"
)

const enabled = false

// Wrap returns c: raw calls are made on Linux only, and not under the race
// detector.
func Wrap(c net.Conn) net.Conn { return c }

// ReadFD is syscall.Read on the non-blocking file descriptor fd.
func ReadFD(fd int, p []byte) (int, error) { return syscall.Read(fd, p) }
