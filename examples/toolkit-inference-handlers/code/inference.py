"""The four inference handlers, in the shape of AWS's SageMaker samples:
model_fn loads the model, input_fn parses JSON ({"instances": [[...], ...]}
or a bare list of rows) or CSV, predict_fn returns the classes and their
probabilities, and output_fn returns a dict, which the toolkit's model
server (and sagekit's adapter) send as JSON."""

import json
import os

import joblib
import numpy as np
from sagemaker_inference import content_types, errors


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, request_content_type):
    if request_content_type == content_types.JSON:
        payload = json.loads(request_body)
        if isinstance(payload, dict):
            payload = payload["instances"]
        return np.asarray(payload, dtype=float)
    if request_content_type == content_types.CSV:
        return np.atleast_2d(np.genfromtxt(request_body.splitlines(), delimiter=","))
    raise errors.GenericInferenceToolkitError(
        415, "{} is not supported: send application/json or text/csv".format(request_content_type))


def predict_fn(input_data, model):
    classes = model.predict(input_data)
    probabilities = model.predict_proba(input_data)
    return classes, probabilities, model.classes_


def output_fn(prediction, accept):
    classes, probabilities, labels = prediction
    return {
        "predictions": [
            {"label": str(c), "scores": {str(l): round(float(p), 4) for l, p in zip(labels, row)}}
            for c, row in zip(classes, probabilities)
        ],
    }
