# An inference.py that leans on the inference toolkit's own modules, as
# scripts for AWS's framework containers often do. Without the
# sagemaker_inference package installed, sagekit provides these parts.
from sagemaker_inference import content_types, decoder, encoder, errors


def model_fn(model_dir):
    return lambda rows: [sum(r) for r in rows]


def input_fn(input_data, content_type):
    if content_type != content_types.JSON:
        raise errors.BaseInferenceToolkitError(400, "send %s" % content_types.JSON, "Bad Request")
    data = decoder.decode(input_data, content_type)
    return data.tolist() if hasattr(data, "tolist") else data


def predict_fn(data, model):
    return model(data)


def output_fn(prediction, accept):
    return encoder.encode(prediction, accept), accept
