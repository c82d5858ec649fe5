# A Flask predictor with the behaviour of AWS's scikit_bring_your_own
# example (decision_trees/predictor.py): the model loads lazily on the first
# /ping, /invocations takes text/csv only (415 otherwise), parses it with
# pandas and answers one prediction per line. The only difference: the
# /opt/ml prefix may be moved with SAGEMAKER_BASE_DIR, for tests on a host.

import io
import os
import pickle

import flask
import pandas as pd

prefix = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
model_path = os.path.join(prefix, "model")


class ScoringService(object):
    model = None  # where the model is kept once loaded

    @classmethod
    def get_model(cls):
        """Get the model object for this instance, loading it if it's not already loaded."""
        if cls.model is None:
            with open(os.path.join(model_path, "decision-tree-model.pkl"), "rb") as inp:
                cls.model = pickle.load(inp)
        return cls.model

    @classmethod
    def predict(cls, input):
        clf = cls.get_model()
        return clf.predict(input)


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    """Healthy when the model loads."""
    health = ScoringService.get_model() is not None
    status = 200 if health else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    """CSV in, one prediction per line out."""
    data = None
    if flask.request.content_type == "text/csv":
        data = flask.request.data.decode("utf-8")
        s = io.StringIO(data)
        data = pd.read_csv(s, header=None)
    else:
        return flask.Response(
            response="This predictor only supports CSV data", status=415, mimetype="text/plain"
        )

    print("Invoked with {} records".format(data.shape[0]))

    predictions = ScoringService.predict(data)

    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    result = out.getvalue()

    return flask.Response(response=result, status=200, mimetype="text/csv")
