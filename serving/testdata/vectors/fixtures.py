"""Handlers whose prediction is chosen by the request body (its name in
PREDICTIONS), then encoded by the default output_fn for the Accept
header."""
import numpy as np

PREDICTIONS = {
    "int-list": [1, 2, 3],
    "float-list": [0.5, 1.25, -2.0],
    "nested-list": [[1, 2], [3, 4]],
    "mixed-list": [1, 2.5, "a", True, None],
    "dict": {"b": 1, "a": [1, 2]},
    "string": "hello",
    "int": 42,
    "float": 0.1,
    "bool": True,
    "none": None,
    "empty-list": [],
    "unicode": "h\u00e9llo \u2603",
    "np-int64-1d": np.array([1, 2, 3], dtype=np.int64),
    "np-float64-1d": np.array([0.5, 1.5, 2.25]),
    "np-float32-1d": np.array([0.5, 1.5], dtype=np.float32),
    "np-2d": np.array([[1.0, 2.0], [3.0, 4.0]]),
    "np-int-2d": np.array([[1, 2, 3], [4, 5, 6]]),
    "np-bool": np.array([True, False]),
    "np-str": np.array(["a", "bc"]),
    "np-scalar": np.float64(2.5),
    "np-int-scalar": np.int64(7),
    "np-empty": np.array([]),
    "np-3d": np.arange(8).reshape(2, 2, 2),
    "np-nan": np.array([1.0, float("nan")]),
    "dict-of-np": {"scores": np.array([0.25, 0.75]), "label": np.int64(1)},
}


def model_fn(model_dir):
    return PREDICTIONS


def input_fn(data, content_type):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    return data.strip()


def predict_fn(name, model):
    return model[name]
