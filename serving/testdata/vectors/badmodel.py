"""A model_fn that raises."""


def model_fn(model_dir):
    raise IOError("no model file in " + model_dir)
