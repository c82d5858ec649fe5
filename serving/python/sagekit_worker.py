"""sagekit worker process: serves one Python model over HTTP on a unix socket.

    python3 sagekit_worker.py wsgi MODULE:ATTR      an existing WSGI app, unchanged
    python3 sagekit_worker.py handler MODULE        inference-toolkit functions
                                                   (model_fn, input_fn, predict_fn,
                                                   output_fn or transform_fn)

The socket path comes from SAGEKIT_WORKER_SOCKET. sagekit-runtime starts one
such process per worker and sends it one request at a time. Standard library
only; numpy, scipy are used when present. Python 3.8 or later.
"""

import importlib
import io
import os
import socket
import sys
from urllib.parse import unquote

MAX_HEAD = 64 * 1024
RECV = 256 * 1024

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
    500: "Internal Server Error", 503: "Service Unavailable", 507: "Insufficient Storage",
}


class BadRequest(Exception):
    pass


# ---------------------------------------------------------------- HTTP server


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
            got = self.sock.recv_into(view[have:], min(n - have, 4 * RECV))
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


# ------------------------------------------------------- inference toolkit


JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
UTF8_TYPES = (JSON, CSV)


def media_type(ct):
    return (ct or "").split(";", 1)[0].strip().lower()


def _numpy():
    try:
        import numpy
        return numpy
    except ImportError:
        return None


class UnsupportedFormatError(Exception):
    # The toolkit's text, with the indentation its textwrap.dedent leaves in
    # (the first line has none, so nothing is removed).
    def __init__(self, content_type):
        Exception.__init__(self, "Content type %s is not supported by this framework.\n\n"
                           "            Please implement input_fn to to deserialize the request data or an output_fn to\n"
                           "            serialize the response. For more information, see the SageMaker Python SDK README."
                           % content_type)


def default_decode(data, content_type):
    import json
    np = _numpy()
    mt = media_type(content_type)
    if mt == JSON:
        obj = json.loads(data)
        return np.array(obj) if np is not None else obj
    if mt == CSV:
        if isinstance(data, (bytes, bytearray)):
            data = data.decode("utf-8")
        if np is not None:
            # dtype=None, as the toolkit passes it: each column's type comes
            # from its contents, so integer columns stay integers.
            return np.genfromtxt(io.StringIO(data), dtype=None, delimiter=",")
        rows = []
        for line in data.splitlines():
            if line.strip():
                rows.append([_number(x) for x in line.split(",")])
        return rows
    if mt == NPY and np is not None:
        # Unlike the toolkit, no pickles: an object array in a request body
        # would run code the caller chose. Numeric, string and structured
        # arrays load as before.
        return np.load(io.BytesIO(data), allow_pickle=False)
    if mt == NPZ:
        import scipy.sparse
        return scipy.sparse.load_npz(io.BytesIO(data))
    raise UnsupportedFormatError(content_type)


def _number(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _tolist(obj):
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return tolist()
    todense = getattr(obj, "todense", None)
    if todense is not None:
        return todense().tolist()
    raise TypeError("%r is not JSON serializable" % type(obj))


def default_encode(obj, content_type):
    import json
    np = _numpy()
    mt = media_type(content_type)
    if mt == JSON:
        return json.dumps(obj, default=_tolist)
    if mt == CSV:
        stream = io.StringIO()
        if np is not None:
            np.savetxt(stream, np.asarray(obj), delimiter=",", fmt="%s")
        else:
            rows = obj if isinstance(obj, (list, tuple)) else [obj]
            for row in rows:
                if isinstance(row, (list, tuple)):
                    stream.write(",".join(str(x) for x in row) + "\n")
                else:
                    stream.write(str(row) + "\n")
        return stream.getvalue()
    if mt == NPY and np is not None:
        stream = io.BytesIO()
        np.save(stream, np.asarray(obj))
        return stream.getvalue()
    raise UnsupportedFormatError(content_type)


class Context(object):
    """The little of the model server's context that handlers read."""

    def __init__(self, model_dir, environ=None):
        gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        self.system_properties = {"model_dir": model_dir, "gpu_id": 0 if gpu and gpu != "-1" else None}
        self.model_name = "model"
        self.environ = environ or {}
        self.request_headers = {}

    def get_request_header(self, idx, key):
        return self.request_headers.get(key.lower())


def _arity(fn):
    import inspect  # only handler modules need it; WSGI workers stay lean
    try:
        return len([p for p in inspect.signature(fn).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        return -1


def _call(fn, context, *args):
    """Calls a handler function, with the trailing context when it takes one."""
    if _arity(fn) == len(args) + 1:
        return fn(*(args + (context,)))
    return fn(*args)


class HandlerApp(object):
    """A WSGI app answering /ping and /invocations with a module of
    inference-toolkit functions, as the toolkit's Transformer does."""

    def __init__(self, module_name, model_dir):
        if module_name.endswith(".py"):
            module_name = module_name[:-3]
        mod = importlib.import_module(module_name)
        self.model_dir = model_dir
        self.transform_fn = getattr(mod, "transform_fn", None)
        self.input_fn = getattr(mod, "input_fn", None)
        self.predict_fn = getattr(mod, "predict_fn", None)
        self.output_fn = getattr(mod, "output_fn", None)
        if self.transform_fn and (self.input_fn or self.predict_fn or self.output_fn):
            raise ValueError("Cannot use transform_fn implementation in conjunction with "
                             "input_fn, predict_fn, and/or output_fn implementation")
        self.input_fn = self.input_fn or default_input_fn
        self.predict_fn = self.predict_fn or default_predict_fn
        self.output_fn = self.output_fn or default_output_fn
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
        self.context = Context(model_dir)
        self.module = mod
        self.model = None
        # Multi-model endpoints load models by name, on request, from the
        # directory SageMaker names; nothing is loaded at start.
        self.multi = os.environ.get("SAGEMAKER_MULTI_MODEL", "").lower() == "true"
        self.models = {}
        if not self.multi:
            self.model = self.load(model_dir)

    def load(self, model_dir):
        mod = self.module
        ctx = Context(model_dir)
        pre = getattr(mod, "pre_model_fn", None)
        if pre is not None:
            _call(pre, ctx, model_dir)
        model_fn = getattr(mod, "model_fn", None) or default_model_fn
        model = _call(model_fn, ctx, model_dir)
        warm = getattr(mod, "model_warmup_fn", None)
        if warm is not None:
            _call(warm, ctx, model_dir, model)
        return model

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        method = environ["REQUEST_METHOD"]
        if path == "/ping" and method in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if path == "/invocations" and method == "POST" and not self.multi:
            return self.invoke(environ, start_response, self.model, self.context)
        if self.multi and path.startswith("/models"):
            return self.multi_model(environ, start_response, path, method)
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b"{}"]

    def multi_model(self, environ, start_response, path, method):
        import json
        # PATH_INFO holds the path's bytes as latin-1 (PEP 3333); model
        # names travel as UTF-8, as the load request's JSON gives them.
        try:
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return respond(start_response, 400, "the model name in the path is not UTF-8")
        parts = path.strip("/").split("/")
        if parts == ["models"] and method == "POST":
            req = json.loads(environ["wsgi.input"].read() or b"{}")
            name, url = req.get("model_name"), req.get("url")
            if not name or not url:
                return respond(start_response, 400, "the load request needs model_name and url")
            if name in self.models:
                return respond(start_response, 409, "model %s is already loaded" % name)
            try:
                self.models[name] = (self.load(url), Context(url))
            except MemoryError:
                return respond(start_response, 507, "out of memory loading model %s" % name)
            except Exception as e:
                import traceback
                trace = traceback.format_exc()
                sys.stderr.write(trace)
                return respond(start_response, 500, "%s\n%s" % (e, trace))
            return respond(start_response, 200, "model %s loaded" % name)
        if len(parts) == 2 and method == "DELETE":
            if self.models.pop(parts[1], None) is None:
                return respond(start_response, 404, "model %s is not loaded" % parts[1])
            import gc
            gc.collect()
            return respond(start_response, 200, "model %s unloaded" % parts[1])
        if len(parts) == 3 and parts[2] == "invoke" and method == "POST":
            entry = self.models.get(parts[1])
            if entry is None:
                return respond(start_response, 404, "model %s is not loaded" % parts[1])
            return self.invoke(environ, start_response, entry[0], entry[1])
        return respond(start_response, 404, "no such route")

    def invoke(self, environ, start_response, model, ctx):
        try:
            # The toolkit finds the type with ^[Cc]ontent-?[Tt]ype, so a
            # "ContentType" header counts too.
            content_type = environ.get("CONTENT_TYPE") or environ.get("HTTP_CONTENTTYPE")
            accept = environ.get("HTTP_ACCEPT", "")
            if not accept or accept == "*/*":
                accept = self.default_accept
            data = environ["wsgi.input"].read()
            # As the toolkit: only an exact "application/json" or "text/csv"
            # arrives as text; with parameters ("; charset=utf-8") or any
            # other type, the handler gets the bytes.
            if content_type in UTF8_TYPES:
                data = data.decode("utf-8")
            ctx.environ = environ
            ctx.request_headers = dict((k[5:].replace("_", "-").lower(), v)
                                       for k, v in environ.items() if k.startswith("HTTP_"))
            if content_type:
                ctx.request_headers["content-type"] = content_type
            if self.transform_fn is not None:
                result = _call(self.transform_fn, ctx, model, data, content_type, accept)
            else:
                inp = _call(self.input_fn, ctx, data, content_type)
                prediction = _call(self.predict_fn, ctx, inp, model)
                result = _call(self.output_fn, ctx, prediction, accept)
            response_type = accept
            if isinstance(result, tuple):
                result, response_type = result[0], result[1]
            if isinstance(result, str):
                result = result.encode("utf-8")
            elif not isinstance(result, (bytes, bytearray)):
                # As the model server: what is neither bytes nor text is
                # sent as JSON (a dict, a list, a number, None as null).
                result = to_json(result)
                if result is None:
                    return respond(start_response, 503, "Unsupported model output data type.")
            start_response("200 OK", [("Content-Type", response_type)])
            return [bytes(result)]
        except Exception as e:
            import traceback
            trace = traceback.format_exc()
            sys.stderr.write(trace)
            status = getattr(e, "status_code", None)
            if isinstance(status, int) and 400 <= status <= 599:
                message = getattr(e, "message", None) or str(e)
                phrase = getattr(e, "phrase", None) or REASONS.get(status, "Error")
            else:
                # GenericInferenceToolkitError(500, str(e)): an empty
                # message becomes "Invalid Request".
                status, message, phrase = 500, str(e) or "Invalid Request", "Internal Server Error"
            phrase = str(phrase).replace("\r", " ").replace("\n", " ")
            body = ("%s\n%s" % (message, trace)).encode("utf-8", "replace")
            start_response("%d %s" % (status, phrase), [("Content-Type", "text/plain; charset=utf-8")])
            return [body]


def to_json(result):
    """The model server's encoding of a handler result that is neither bytes
    nor text: json.dumps with an indent of 2, numpy values through their
    tolist (where the model server answers 503). None when it cannot be
    encoded."""
    import json
    try:
        return json.dumps(result, indent=2, default=_tolist).encode("utf-8")
    except (TypeError, ValueError):
        import traceback
        traceback.print_exc()
        return None


def respond(start_response, status, message):
    start_response("%d %s" % (status, REASONS.get(status, "Error")), [("Content-Type", "text/plain; charset=utf-8")])
    return [message.encode("utf-8", "replace")]


def default_model_fn(model_dir):
    raise NotImplementedError("Please provide a model_fn implementation in the handler module: "
                              "model_fn(model_dir) loads and returns the model")


def default_input_fn(input_data, content_type):
    return default_decode(input_data, content_type)


def default_predict_fn(data, model):
    # Framework containers differ here: scikit-learn's calls predict, the
    # deep-learning ones call the model. Both are tried, in that order.
    predict = getattr(model, "predict", None)
    if predict is not None:
        return predict(data)
    if callable(model):
        return model(data)
    raise NotImplementedError("Please provide a predict_fn implementation: the model has no "
                              "predict method and cannot be called")


def default_output_fn(prediction, accept):
    # Comma-split, first supported type, no q-values: the toolkit's rule.
    # Parameters and letter case do not hide a supported type (the toolkit
    # compares the text exactly); the answer names the bare media type.
    for ct in accept.split(","):
        mt = media_type(ct)
        if mt in (JSON, CSV, NPY):
            return default_encode(prediction, mt), mt
    raise UnsupportedFormatError(accept)


class BaseInferenceToolkitError(Exception):
    """sagemaker_inference.errors.BaseInferenceToolkitError: status_code
    becomes the HTTP status."""

    def __init__(self, status_code, message, phrase):
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        Exception.__init__(self, status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code, message=None, phrase=None):
        message = message or "Invalid Request"
        phrase = phrase or message
        BaseInferenceToolkitError.__init__(self, status_code, message, phrase)


def search_path(mode, base):
    """The directories put first on sys.path, last one first. A WSGI app
    comes from the working directory, then from the model's code directory.
    A handler module comes from the model's code directory first, as the
    inference toolkit prepends it: a model's own inference.py wins over an
    image's module of the same name. sagekit-runtime names the code
    directory in SAGEKIT_CODE_DIR when SAGEMAKER_SUBMIT_DIRECTORY moves it."""
    code = os.environ.get("SAGEKIT_CODE_DIR") or os.path.join(base, "model", "code")
    if mode == "handler":
        return (os.getcwd(), code)
    return (code, os.getcwd())


def install_toolkit_shim():
    """When the sagemaker_inference package is not installed, provides the
    parts of it that inference.py files import (content_types, decoder,
    encoder, errors), so they run unchanged. An installed package wins."""
    import importlib.util
    import types
    if importlib.util.find_spec("sagemaker_inference") is not None:
        return
    pkg = types.ModuleType("sagemaker_inference")
    pkg.__path__ = []
    ct = types.ModuleType("sagemaker_inference.content_types")
    ct.JSON, ct.CSV, ct.NPY, ct.NPZ = JSON, CSV, NPY, NPZ
    ct.OCTET_STREAM, ct.ANY = "application/octet-stream", "*/*"
    ct.UTF8_TYPES = [JSON, CSV]
    dec = types.ModuleType("sagemaker_inference.decoder")
    dec.decode = default_decode
    enc = types.ModuleType("sagemaker_inference.encoder")
    enc.encode = default_encode
    err = types.ModuleType("sagemaker_inference.errors")
    err.BaseInferenceToolkitError = BaseInferenceToolkitError
    err.GenericInferenceToolkitError = GenericInferenceToolkitError
    err.UnsupportedFormatError = UnsupportedFormatError
    dec.UnsupportedFormatError = enc.UnsupportedFormatError = UnsupportedFormatError
    for name, mod in (("content_types", ct), ("decoder", dec), ("encoder", enc), ("errors", err)):
        setattr(pkg, name, mod)
        sys.modules[mod.__name__] = mod
    sys.modules["sagemaker_inference"] = pkg


# --------------------------------------------------------------------- main


def load_wsgi(target):
    module_name, _, attr = target.partition(":")
    mod = importlib.import_module(module_name)
    app = mod
    for part in (attr or "app").split("."):
        app = getattr(app, part)
    return app


def load_app(mode, target):
    """Imports the app (mode "wsgi") or the handler module (mode "handler",
    whose model_fn then runs) the way every worker serves it."""
    base = os.environ.get("SAGEMAKER_BASE_DIR") or "/opt/ml"
    model_dir = os.environ.get("SAGEKIT_MODEL_DIR") or os.path.join(base, "model")
    for d in search_path(mode, base):
        # Moved to the front even when PYTHONPATH already holds it: there it
        # would come after the working directory inserted before it.
        while d in sys.path:
            sys.path.remove(d)
        sys.path.insert(0, d)
    if mode == "wsgi":
        return load_wsgi(target)
    install_toolkit_shim()
    return HandlerApp(target, model_dir)


def warm_up(app):
    """Calls the app's GET /ping once, as the runtime calls it to learn that
    a worker is ready, so that what the app loads on its first /ping (the
    Flask example unpickles its model there) is loaded once, before the
    fork, and shared. The answer is not used."""
    environ = BASE_ENVIRON.copy()
    environ.update({"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/ping",
                    "QUERY_STRING": "", "HTTP_HOST": "worker", "wsgi.input": io.BytesIO(b"")})
    try:
        result = app(environ, lambda status, headers, exc_info=None: (lambda data: None))
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception:
        import traceback
        traceback.print_exc()


# ------------------------------------------------------------- fork server
#
# With --fork-server, the process loads the app once and then forks every
# worker from it when sagekit-runtime asks, so that the workers share the
# loaded modules and model copy-on-write (gunicorn's --preload). It talks to
# the runtime over the unix socket on fd 3, one line a message:
#
#   fork server -> runtime   ready                  the app is loaded
#   runtime -> fork server   spawn ID\tKEY=VALUE...  with the worker's stdout and
#                                                   stderr as SCM_RIGHTS fds
#   fork server -> runtime   pid ID PID             the worker is forked
#   fork server -> runtime   exit PID STATUS        a worker ended (STATUS as
#                                                   waitpid gives it)
#
# A worker is its own process group (the runtime signals the group) and is
# killed when the fork server dies. The fork server exits when the runtime
# closes its end of the socket.

CONTROL_FD = 3


def fork_server(mode, target):
    import gc
    import selectors
    import signal
    ctl = socket.socket(fileno=CONTROL_FD)
    # As the gc module's documentation advises for fork without exec: no
    # collection in the fork server, so that it leaves no freed holes for the
    # workers to fill (and copy), and what it loaded frozen out of the
    # collector's sight, so that the workers' collections do not write to
    # (and copy) the shared pages either.
    gc.disable()
    app = load_app(mode, target)
    if mode == "wsgi":
        warm_up(app)
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signo, frame: None)
    sel = selectors.DefaultSelector()
    sel.register(ctl, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    ctl.sendall(b"ready\n")
    buf = b""
    while True:
        for key, _ in sel.select():
            if key.fileobj is ctl:
                msg, fds, _, _ = socket.recv_fds(ctl, 65536, 2) if hasattr(socket, "recv_fds") else _recv_fds(ctl)
                if not msg:
                    return 0
                buf += msg
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    head, _, envs = line.decode("utf-8").partition("\t")
                    verb, wid = head.split(" ", 1)
                    if verb != "spawn":
                        continue
                    pid = spawn(app, envs, fds, (ctl, sel, wake_r, wake_w))
                    fds = []
                    ctl.sendall(("pid %s %d\n" % (wid, pid)).encode())
            else:
                os.read(wake_r, 4096)
                reap(ctl)


def _recv_fds(sock):
    """socket.recv_fds for Python 3.8."""
    import array
    fds = array.array("i")
    msg, anc, flags, addr = sock.recvmsg(65536, socket.CMSG_LEN(2 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds), flags, addr


def reap(ctl):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ctl.sendall(("exit %d %d\n" % (pid, status)).encode())


def spawn(app, envs, fds, inherited):
    """Forks one worker with the tab-separated KEY=VALUE settings envs and
    fds as its stdout and stderr; returns its pid. inherited is what the
    worker closes: the control socket, the selector and the wake-up pipe."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    # The worker.
    code = 1
    try:
        import signal
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        import gc
        gc.enable()
        os.setpgid(0, 0)
        _die_with_parent(parent)
        ctl, sel, wake_r, wake_w = inherited
        sel.close()
        ctl.close()
        os.close(wake_r)
        os.close(wake_w)
        if len(fds) == 2:
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            for fd in fds:
                os.close(fd)
        for kv in envs.split("\t") if envs else ():
            k, _, v = kv.partition("=")
            os.environ[k] = v
        serve(app, listen(os.environ["SAGEKIT_WORKER_SOCKET"]))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _die_with_parent(parent):
    """Asks the kernel to kill this worker when the fork server dies."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:
        pass
    if os.getppid() != parent:
        os._exit(1)


def main(argv):
    args = argv[1:]
    forking = bool(args) and args[0] == "--fork-server"
    if forking:
        args = args[1:]
    if len(args) != 2 or args[0] not in ("wsgi", "handler"):
        sys.stderr.write("usage: sagekit_worker.py [--fork-server] wsgi MODULE:ATTR | handler MODULE\n")
        return 2
    if forking:
        return fork_server(args[0], args[1])
    sock = os.environ.get("SAGEKIT_WORKER_SOCKET")
    if not sock:
        sys.stderr.write("sagekit_worker.py: SAGEKIT_WORKER_SOCKET is not set; "
                         "sagekit-runtime sets it for each worker\n")
        return 2
    app = load_app(args[0], args[1])
    serve(app, listen(sock))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
