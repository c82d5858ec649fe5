"""The adapter's command line (sagekit_worker.py runs main)."""

import os
import sys

from .loader import load_app
from .server import listen, serve


def main(argv):
    args = argv[1:]
    forking = bool(args) and args[0] == "--fork-server"
    if forking:
        args = args[1:]
    if len(args) != 2 or args[0] not in ("wsgi", "handler"):
        sys.stderr.write("usage: sagekit_worker.py [--fork-server] wsgi MODULE:ATTR | handler MODULE\n")
        return 2
    if forking:
        from .forkserver import fork_server
        return fork_server(args[0], args[1])
    sock = os.environ.get("SAGEKIT_WORKER_SOCKET")
    if not sock:
        sys.stderr.write("sagekit_worker.py: SAGEKIT_WORKER_SOCKET is not set; "
                         "sagekit-runtime sets it for each worker\n")
        return 2
    app = load_app(args[0], args[1])
    serve(app, listen(sock))
    return 0
