package conformance

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// wsPing opens a WebSocket at base+path, sends a ping frame and waits for
// the pong (RFC 6455), which is all C-IMG-03 needs.
func wsPing(ctx context.Context, base, path string, timeout time.Duration) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, u.Host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the handshake: %w", err)
	}
	if len(status) < 12 || status[9:12] != "101" {
		return fmt.Errorf("%s did not switch to WebSocket: %q", path, status)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the handshake: %w", err)
		}
		if line == "\r\n" {
			break
		}
	}
	// A masked ping frame with payload "sagekit".
	payload := []byte("sagekit")
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x89, 0x80 | byte(len(payload))}
	frame = append(frame, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := conn.Write(frame); err != nil {
		return fmt.Errorf("sending a ping: %w", err)
	}
	for {
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return fmt.Errorf("waiting for the pong: %w", err)
		}
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			ext := make([]byte, 2)
			if _, err := io.ReadFull(br, ext); err != nil {
				return err
			}
			n = int(ext[0])<<8 | int(ext[1])
		case 127:
			return errors.New("unexpectedly large frame while waiting for the pong")
		}
		if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
			return err
		}
		switch hdr[0] & 0x0f {
		case 0xA:
			return nil
		case 0x8:
			return errors.New("the server closed the WebSocket instead of answering the ping")
		}
	}
}
