"""The four inference handlers, in the shape of AWS's SageMaker samples:
model_fn loads the model, input_fn parses JSON ({"instances": [[...], ...]}
or a bare list of rows) or CSV, predict_fn returns each row's class and the
probability of that class, and output_fn returns a dict, which the
toolkit's model server (and sagekit's adapter) send as JSON."""

import io
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
        return np.loadtxt(io.StringIO(request_body), delimiter=",", ndmin=2)
    raise errors.GenericInferenceToolkitError(
        415, "{} is not supported: send application/json or text/csv".format(request_content_type))


def predict_fn(input_data, model):
    probabilities = model.predict_proba(input_data)
    best = probabilities.argmax(axis=1)
    return model.classes_[best], probabilities.max(axis=1)


def output_fn(prediction, accept):
    classes, confidence = prediction
    return {
        "predictions": classes.tolist(),
        "confidence": np.round(confidence, 4).tolist(),
    }
