// Package h1 serves HTTP/1.1 requests of the plain shape SageMaker's front
// sends (a Content-Length body or none, keep-alive) on one goroutine per
// connection, and hands every other connection to a net/http server.
//
// net/http spends, per request, a goroutine that reads in the background to
// notice a client leaving, a context, a bufio reader and writer, the
// request's headers copied into fresh maps and strings, and a deadline set
// three or four times. Served behind a worker pool that itself costs little,
// that is most of what the front costs beyond the system calls any server
// makes. Here a connection keeps one buffer, one request and one header map
// for its whole life; a deadline is set only when a read or write is about
// to wait (rawio.Trier), and the answer leaves in one write.
//
// Everything it does not parse itself goes to the fallback net/http server
// with the bytes already read put back in front of the connection: HTTP/1.0,
// chunked or otherwise transfer-encoded bodies, Expect, HEAD, absolute or
// asterisk targets, repeated Content-Length or Host, bare LF line ends,
// obsolete line folding, control bytes, header names that are not tokens,
// and heads over 64 KiB. So every malformed or ambiguous request is refused
// (or served) exactly as net/http does, which is what the serving front's
// request-smuggling and header-abuse tests hold it to; the fuzz test holds
// the parser to net/http's reading of every request it accepts.
//
// What it does not do: notice a client leaving while its request runs.
// Handlers that wait long can ask (ClientGone) after the wait; the answer to
// a client that left is written into a closed connection and dropped.
package h1
