//go:build !unix

package h1

import "net"

// peekGone cannot tell here.
func peekGone(net.Conn) bool { return false }
