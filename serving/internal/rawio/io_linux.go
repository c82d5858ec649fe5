//go:build linux

package rawio

import "syscall"

// readOnce is one read(2) of fd into b, retried on EINTR; ready is false
// when nothing has arrived (EAGAIN).
func readOnce(fd int, b []byte) (n int, errno syscall.Errno, ready bool) {
	for {
		n, errno = sysRead(fd, b)
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, 0, false
		}
		return n, errno, true
	}
}

// writeRest writes b[*wn:] to fd, advancing *wn; done is false when the
// socket has no room left (EAGAIN), true when all is written or errno is set.
func writeRest(fd int, b []byte, wn *int) (errno syscall.Errno, done bool) {
	for *wn < len(b) {
		n, errno := sysWrite(fd, b[*wn:min(len(b), *wn+maxRW)])
		switch errno {
		case 0:
			*wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return 0, false
		default:
			return errno, true
		}
	}
	return 0, true
}
