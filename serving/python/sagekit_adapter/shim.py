"""The parts of the sagemaker_inference package that inference.py files
import, for images that do not install it."""

import sys

from .codec import CSV, JSON, NPY, NPZ, UnsupportedFormatError, default_decode, default_encode


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
