"""Only model_fn: the default input_fn, predict_fn and output_fn run."""


class Doubler(object):
    def predict(self, data):
        return data * 2


def model_fn(model_dir):
    return Doubler()
