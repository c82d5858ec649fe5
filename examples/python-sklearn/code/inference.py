"""Serve the decision tree through sagekit-runtime's Python adapter.

SAGEKIT_HANDLER=inference makes `sagekit-runtime serve` load this module and
call its functions, as the SageMaker inference toolkit does: model_fn once at
start-up, then input_fn, predict_fn and output_fn for each request. The
runtime answers /ping and handles HTTP itself: no nginx, gunicorn or Flask.
"""

import io
import os
import pickle

import pandas as pd


class UnsupportedContentType(Exception):
    """Raised for a request body this model cannot read. The adapter answers
    with the exception's status_code, as the inference toolkit does."""

    status_code = 415


def model_fn(model_dir):
    with open(os.path.join(model_dir, "decision-tree-model.pkl"), "rb") as f:
        return pickle.load(f)


def input_fn(body, content_type):
    if (content_type or "").split(";")[0].strip() != "text/csv":
        raise UnsupportedContentType("This predictor only supports CSV data")
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return pd.read_csv(io.StringIO(body), header=None)


def predict_fn(data, model):
    print(f"Invoked with {data.shape[0]} records")
    return model.predict(data.to_numpy())


def output_fn(prediction, accept):
    return "".join(f"{p}\n" for p in prediction), "text/csv"
