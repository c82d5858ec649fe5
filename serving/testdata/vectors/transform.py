"""A transform_fn that takes the request context and answers with what it
was given, or raises when the body says "raise"."""
import json


def model_fn(model_dir):
    return {"name": "m"}


def transform_fn(model, data, content_type, accept, context):
    if isinstance(data, (bytes, bytearray)):
        kind = "bytes"
        data = data.decode("latin-1")
    else:
        kind = type(data).__name__
    if data == "raise":
        raise ValueError("transform failed")
    if data == "dict":
        return {"content_type": content_type, "accept": accept}
    answer = json.dumps({"model": model["name"], "data": data, "kind": kind,
                         "content_type": content_type, "accept": accept}, sort_keys=True)
    return answer, "application/vnd.answer+json"
