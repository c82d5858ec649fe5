package rawio

import "net"

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
