"""sagekit worker process: serves one Python model over HTTP on a unix socket.

    python3 sagekit_worker.py wsgi MODULE:ATTR      an existing WSGI app, unchanged
    python3 sagekit_worker.py handler MODULE        inference-toolkit functions
                                                   (model_fn, input_fn, predict_fn,
                                                   output_fn or transform_fn)

The socket path comes from SAGEKIT_WORKER_SOCKET. sagekit-runtime starts one
such process per worker and sends it one request at a time. Standard library
only; numpy, scipy are used when present. Python 3.8 or later.

This file only starts the adapter; its code is the package sagekit_adapter
in this file's directory, which is put first on sys.path (Python puts it
there for a script, except under PYTHONSAFEPATH), so the copy next to this
file is the one imported. The package's layout is in its __init__.py.
"""

import os
import sys

_here = os.path.dirname(os.path.realpath(__file__))
if not sys.path or os.path.realpath(sys.path[0]) != _here:
    sys.path.insert(0, _here)

from sagekit_adapter.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
