"""Handlers whose output_fn returns RETURNS[body]: what each return type
becomes on the wire."""
import numpy as np

RETURNS = {
    "dict": {"predictions": [1, 2], "label": "cat"},
    "nested-dict": {"a": {"b": [1.5, {"c": None}]}, "z": True},
    "list": [1, "two", 3.0],
    "list-of-dicts": [{"id": 1}, {"id": 2}],
    "empty-dict": {},
    "empty-list": [],
    "none": None,
    "int": 5,
    "float": 0.25,
    "bool": False,
    "str": "plain text",
    "str-unicode": "caf\u00e9",
    "str-json": '{"already": "json"}',
    "empty-str": "",
    "bytes": b"\x00\x01raw",
    "empty-bytes": b"",
    "bytearray": bytearray(b"ba"),
    "tuple-str": ("a,b\n", "text/csv"),
    "tuple-bytes": (b"\x89PNG", "image/png"),
    "tuple-dict": ({"x": 1}, "application/json"),
    "dict-unicode": {"name": "caf\u00e9"},
    "dict-with-np-int": {"label": np.int64(3)},
    "dict-with-np-array": {"scores": np.array([0.5, 0.25])},
    "np-array": np.array([1, 2]),
    "set": {1},
}


def model_fn(model_dir):
    return None


def input_fn(data, content_type):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    return data.strip()


def predict_fn(name, model):
    return name


def output_fn(name, accept):
    return RETURNS[name]
