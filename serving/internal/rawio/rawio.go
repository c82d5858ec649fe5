package rawio

import "net"

// maxRW bounds one read or write, as internal/poll does.
const maxRW = 1 << 30

// listener wraps the connections its listener accepts.
type listener struct{ net.Listener }

// WrapListener returns l with every connection it accepts passed through
// Wrap.
func WrapListener(l net.Listener) net.Listener {
	if !enabled {
		return l
	}
	return listener{l}
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Trier is what a connection from Wrap offers on Linux: a read and a write
// that never wait. A server that tries first sets a deadline only when it is
// about to wait, instead of once per request.
type Trier interface {
	// TryRead reads what has already arrived: 0, nil when nothing has,
	// 0, io.EOF when the peer has closed.
	TryRead(b []byte) (int, error)
	// TryWrite writes what the socket takes now and returns how much.
	TryWrite(b []byte) (int, error)
}
