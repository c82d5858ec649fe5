"""The decision tree behind Flask, as the nginx + gunicorn reference serves it."""

import io
import os
import pickle

import flask
import pandas as pd

MODEL = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "model", "decision-tree-model.pkl")
app = flask.Flask(__name__)
_model = None


def model():
    global _model
    if _model is None:
        with open(MODEL, "rb") as f:
            _model = pickle.load(f)
    return _model


@app.route("/ping", methods=["GET"])
def ping():
    return flask.Response(response="\n", status=200 if model() is not None else 404, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def invocations():
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
    data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
    out = "".join(f"{p}\n" for p in model().predict(data.to_numpy()))
    return flask.Response(response=out, status=200, mimetype="text/csv")
