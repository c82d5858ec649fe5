"""Handlers that raise what the body asks for: "STAGE:KIND:MESSAGE" raises
KIND(MESSAGE) in input_fn, predict_fn or output_fn."""
from sagemaker_inference import errors


class Teapot(errors.BaseInferenceToolkitError):
    pass


def _maybe_raise(stage, body):
    want, _, rest = body.partition(":")
    if want != stage:
        return
    kind, _, message = rest.partition(":")
    if kind == "ValueError":
        raise ValueError(message)
    if kind == "KeyError":
        raise KeyError(message)
    if kind == "RuntimeError-empty":
        raise RuntimeError()
    if kind == "Base":
        status, text, phrase = message.split("|")
        raise errors.BaseInferenceToolkitError(int(status), text, phrase)
    if kind == "Generic":
        raise errors.GenericInferenceToolkitError(int(message))
    if kind == "Teapot":
        raise Teapot(418, message, "I'm a teapot")
    if kind == "Unsupported":
        raise errors.UnsupportedFormatError(message)
    if kind == "ZeroDivisionError":
        return 1 / 0
    raise Exception(message)


def model_fn(model_dir):
    return "model"


def input_fn(data, content_type):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    _maybe_raise("input", data)
    return data


def predict_fn(data, model):
    _maybe_raise("predict", data)
    return data


def output_fn(data, accept):
    _maybe_raise("output", data)
    return "ok " + data
