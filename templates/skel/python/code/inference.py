"""Serve the decision tree through sagekit-runtime's Python adapter.

SAGEKIT_HANDLER=inference makes `sagekit-runtime serve` load this module and
call its functions, as the SageMaker inference toolkit does: model_fn once at
start-up, then input_fn, predict_fn and output_fn for each request. The
runtime answers /ping and handles HTTP itself: no nginx, gunicorn or Flask.
"""

import csv
import io
import os
import pickle

import numpy as np


class UnsupportedContentType(Exception):
    """Raised for a request body this model cannot read. The adapter answers
    with the exception's status_code, as the inference toolkit does."""

    status_code = 415


class BadRequest(Exception):
    """Raised for CSV rows that are not all numbers: answered with 400."""

    status_code = 400


def model_fn(model_dir):
    with open(os.path.join(model_dir, "decision-tree-model.pkl"), "rb") as f:
        return pickle.load(f)


def input_fn(body, content_type):
    if (content_type or "").split(";")[0].strip() != "text/csv":
        raise UnsupportedContentType("This predictor only supports CSV data")
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    rows = [row for row in csv.reader(io.StringIO(body)) if row]
    if not rows:
        raise BadRequest("the request has no CSV rows")
    try:
        return np.array([[float(v) for v in row] for row in rows])
    except ValueError as e:
        raise BadRequest(f"every CSV value must be a number: {e}") from None


def predict_fn(data, model):
    print(f"Invoked with {data.shape[0]} records")
    return model.predict(data)


def output_fn(prediction, accept):
    return "".join(f"{p}\n" for p in prediction), "text/csv"
