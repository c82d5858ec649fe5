"""The HTTP/1.1 server of a worker: requests from sagekit-runtime on a unix
socket, one at a time, passed to a WSGI app (PEP 3333)."""

import io
import os
import socket
import sys
from urllib.parse import unquote

MAX_HEAD = 64 * 1024
# What one recv asks for. Below glibc's 128 KiB mmap threshold: recv(n)
# allocates n bytes before it reads, and a larger buffer is an mmap, a page
# fault, an mremap and a munmap on every request.
RECV = 64 * 1024
# What one recv_into of a large body asks for: that buffer is the body's own.
RECV_BODY = 1024 * 1024


class BadRequest(Exception):
    pass


class Conn(object):
    """One keep-alive connection, read through its own buffer so that a
    pipelined request is never left waiting in it."""

    __slots__ = ("sock", "buf")

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def read_head(self):
        buf = self.buf
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(buf) > MAX_HEAD:
                raise BadRequest("request head too large")
            chunk = self.sock.recv(RECV)
            if not chunk:
                if buf:
                    raise BadRequest("connection closed mid-request")
                return None
            buf += chunk
        head = bytes(buf[:i])
        del buf[: i + 4]
        return head

    def read_exact(self, n):
        buf = self.buf
        if len(buf) >= n:
            out = bytes(buf[:n])
            del buf[:n]
            return out
        out = bytearray(n)
        have = len(buf)
        out[:have] = buf
        del buf[:]
        view = memoryview(out)
        while have < n:
            got = self.sock.recv_into(view[have:], min(n - have, RECV_BODY))
            if got == 0:
                raise BadRequest("connection closed mid-body")
            have += got
        return bytes(out)

    def read_line(self):
        buf = self.buf
        while True:
            i = buf.find(b"\r\n")
            if i >= 0:
                line = bytes(buf[:i])
                del buf[: i + 2]
                return line
            chunk = self.sock.recv(RECV)
            if not chunk:
                raise BadRequest("connection closed mid-chunk")
            buf += chunk

    def read_chunked(self):
        parts = []
        while True:
            size = int(self.read_line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.read_line():
                    pass
                return b"".join(parts)
            parts.append(self.read_exact(size))
            self.read_line()


# The environ keys every request shares; each request starts from a copy.
BASE_ENVIRON = {
    "SCRIPT_NAME": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "8080",
    "REMOTE_ADDR": "127.0.0.1",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
}

# Response headers the adapter sets itself.
HOP_HEADERS = frozenset(("content-length", "connection", "transfer-encoding", "keep-alive"))


def handle(conn, app):
    """Serves one request on conn; returns whether to keep the connection."""
    head = conn.read_head()
    if head is None:
        return False
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest("bad request line")
    environ = BASE_ENVIRON.copy()
    environ["REQUEST_METHOD"] = method
    environ["SERVER_PROTOCOL"] = version
    path, _, query = target.partition("?")
    environ["PATH_INFO"] = unquote(path, "latin-1") if "%" in path else path
    environ["QUERY_STRING"] = query
    length = None
    chunked = False
    keep = version == "HTTP/1.1"
    for raw in lines[1:]:
        name, sep, value = raw.partition(":")
        if not sep:
            continue
        key = name.strip().upper().replace("-", "_")
        value = value.strip()
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if key == "CONTENT_LENGTH":
            length = int(value)
            environ["CONTENT_LENGTH"] = value
            continue
        if key == "TRANSFER_ENCODING" and "chunked" in value.lower():
            chunked = True
        elif key == "CONNECTION":
            tokens = value.lower()
            if "close" in tokens:
                keep = False
            elif "keep-alive" in tokens:
                keep = True
        key = "HTTP_" + key
        if key in environ:
            environ[key] += "," + value
        else:
            environ[key] = value
    if chunked:
        body = conn.read_chunked()
        environ["CONTENT_LENGTH"] = str(len(body))
    elif length:
        body = conn.read_exact(length)
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)

    state = []
    chunks = []

    def start_response(status, headers, exc_info=None):
        if exc_info is not None and state and state[0] is None:
            raise exc_info[1].with_traceback(exc_info[2])
        state[:] = [status, headers]
        return chunks.append

    try:
        result = app(environ, start_response)
        try:
            for data in result:
                if data:
                    chunks.append(data)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = state
    except Exception:
        import traceback
        traceback.print_exc()
        status = "500 Internal Server Error"
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        chunks = [b"Internal Server Error: the app raised an exception (see the log)\n"]
    payload = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    out = ["HTTP/1.1 ", status, "\r\n"]
    for k, v in headers:
        if k.lower() in HOP_HEADERS:
            continue
        out += [k, ": ", v, "\r\n"]
    out += ["Content-Length: ", str(len(payload)), "\r\n"]
    if not keep:
        out.append("Connection: close\r\n")
    out.append("\r\n")
    head = "".join(out).encode("latin-1")
    if method == "HEAD":
        payload = b""
    if len(payload) < 65536:
        conn.sock.sendall(head + payload)
    else:
        conn.sock.sendall(head)
        conn.sock.sendall(payload)
    return keep


def bad_request(sock, e):
    try:
        msg = ("bad request: %s\n" % e).encode()
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                     b"Connection: close\r\nContent-Length: " + str(len(msg)).encode()
                     + b"\r\n\r\n" + msg)
    except OSError:
        pass


def listen(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    return listener


def serve(app, listener):
    """Serves connections one after another, each until it closes, as
    gunicorn's sync workers do: sagekit-runtime sends a worker one request
    at a time over one keep-alive connection, so a blocking loop without a
    selector is all it needs."""
    while True:
        sock, _ = listener.accept()
        conn = Conn(sock)
        try:
            while handle(conn, app):
                pass
        except (BadRequest, ValueError) as e:
            bad_request(sock, e)
        except OSError:
            pass
        sock.close()
