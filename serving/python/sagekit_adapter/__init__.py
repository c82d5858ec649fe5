"""sagekit's Python worker adapter, started by sagekit_worker.py beside it.

    server.py      the HTTP/1.1 server on the worker's unix socket (WSGI)
    loader.py      sys.path as the toolkit sets it; importing the app
    toolkit.py     a module of inference-toolkit functions as a WSGI app
    codec.py       the toolkit's content types, default decoder and encoder
    shim.py        sagemaker_inference for images that do not install it
    forkserver.py  --fork-server: load once, fork the workers
    main.py        the command line

A WSGI worker imports server and loader only; the toolkit's modules are
imported for handler modules, the fork server for --fork-server. Modules
import each other relatively, so a changed copy of the whole directory
works under any parent on sys.path.
"""
