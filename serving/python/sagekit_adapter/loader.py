"""Loading the app a worker serves: a WSGI app, or a handler module wrapped
in toolkit.HandlerApp, from the directories the toolkit searches."""

import importlib
import io
import os
import sys

from .server import BASE_ENVIRON


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
    # Only handler modules need the toolkit's code: WSGI workers skip it.
    from .shim import install_toolkit_shim
    from .toolkit import HandlerApp
    install_toolkit_shim()
    return HandlerApp(target, model_dir)


# How many times warm_up calls /ping. Python 3.11 rewrites a function's
# bytecode in place over its first calls (quickening, then specialising
# each instruction); calls made before the fork do that once, in the fork
# server, instead of in each worker's copy of the pages (about 200 KB a
# worker with Flask).
WARM_UP_PINGS = 10


def warm_up(app):
    """Calls the app's GET /ping, as the runtime calls it to learn that a
    worker is ready, so that what the app loads on its first /ping (the
    Flask example unpickles its model there) is loaded once, before the
    fork, and shared. The answers are not used."""
    for _ in range(WARM_UP_PINGS):
        ping(app)


def ping(app):
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
