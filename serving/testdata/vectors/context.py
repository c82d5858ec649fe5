"""Handlers that each take the trailing context argument."""


def model_fn(model_dir, context):
    return "model"


def input_fn(data, content_type, context):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    return [data, content_type]


def predict_fn(data, model, context):
    return data + [model]


def output_fn(prediction, accept, context):
    return prediction + [accept]
