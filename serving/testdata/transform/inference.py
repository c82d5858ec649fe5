# transform_fn does the whole request, as some framework scripts do; a body
# "sleep:S" makes it take S seconds.
import time


def model_fn(model_dir):
    return "model"


def transform_fn(model, data, content_type, accept):
    if data.startswith(b"sleep:"):
        time.sleep(float(data[6:]))
    return b"%s/%s/%s" % (model.encode(), content_type.encode(), data), "application/x-echo"
