# An inference.py as written for AWS's framework containers: model_fn loads
# from the model directory; input_fn, predict_fn and output_fn do the rest.
import json
import os


class ToolkitError(Exception):
    """Shaped like sagemaker_inference.errors.BaseInferenceToolkitError."""

    def __init__(self, status_code, message, phrase):
        Exception.__init__(self, message)
        self.status_code = status_code
        self.message = message
        self.phrase = phrase


class Scaler(object):
    def __init__(self, factor):
        self.factor = factor


def model_fn(model_dir):
    with open(os.path.join(model_dir, "factor.txt")) as f:
        return Scaler(float(f.read()))


def input_fn(request_body, request_content_type):
    if request_content_type == "application/json":
        # The toolkit hands JSON over as text, already decoded from UTF-8.
        assert isinstance(request_body, str), type(request_body)
        return json.loads(request_body)
    if request_content_type == "application/json; charset=utf-8":
        # Only the exact type arrives as text: with a parameter the toolkit
        # hands over the bytes.
        assert isinstance(request_body, bytes), type(request_body)
        return json.loads(request_body.decode("utf-8"))
    if request_content_type == "application/octet-stream":
        assert isinstance(request_body, bytes), type(request_body)
        return [float(b) for b in request_body]
    raise ToolkitError(415, "unsupported content type %s" % request_content_type, "Unsupported\r\nMedia Type")


def predict_fn(input_data, model, context):
    # A trailing context argument is optional and given when declared.
    if input_data == "boom":
        raise RuntimeError("the model blew up")
    return [x * model.factor for x in input_data], context.system_properties["model_dir"]


def output_fn(prediction, accept):
    values, model_dir = prediction
    if accept == "text/csv":
        return ",".join(str(v) for v in values), "text/csv"
    return json.dumps({"values": values, "model_dir": os.path.basename(model_dir), "accept": accept})
