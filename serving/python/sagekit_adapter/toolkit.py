"""A module of inference-toolkit functions (model_fn, input_fn, predict_fn,
output_fn or transform_fn) served as a WSGI app, as the toolkit's
Transformer and the model server serve it."""

import importlib
import os
import sys

from .codec import CSV, JSON, NPY, UTF8_TYPES, UnsupportedFormatError, _tolist, default_decode, default_encode, media_type

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
    500: "Internal Server Error", 503: "Service Unavailable", 507: "Insufficient Storage",
}


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
