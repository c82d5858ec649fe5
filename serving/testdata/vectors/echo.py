"""The default input_fn and output_fn around a predict_fn that returns its
input: a body decoded by one content type and encoded by another."""


def model_fn(model_dir):
    return None


def predict_fn(data, model):
    return data
