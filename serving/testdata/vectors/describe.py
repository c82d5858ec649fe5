"""Handlers that show what the default input_fn decoded: type, dtype,
shape and value of the object predict_fn receives, as JSON text."""
import json


def model_fn(model_dir):
    return "model"


def predict_fn(data, model):
    return data


def _plain(v):
    if isinstance(v, bytes):
        return {"bytes": v.decode("latin-1")}
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def output_fn(prediction, accept):
    out = {"type": type(prediction).__name__}
    dtype = getattr(prediction, "dtype", None)
    if dtype is not None:
        out["dtype"] = str(dtype)
        out["shape"] = list(prediction.shape)
    if hasattr(prediction, "todense"):
        prediction = prediction.todense()
    value = prediction.tolist() if hasattr(prediction, "tolist") else prediction
    out["value"] = _plain(value)
    return json.dumps(out, sort_keys=True)
