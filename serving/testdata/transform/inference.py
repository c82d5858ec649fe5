# transform_fn does the whole request, as some framework scripts do; a body
# "sleep:S" makes it take S seconds. The model is the text of name.txt in
# the model directory, or "model".
import os
import sys
import time


def model_fn(model_dir):
    try:
        with open(os.path.join(model_dir, "name.txt")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return "model"


def transform_fn(model, data, content_type, accept):
    if data.startswith(b"sleep:"):
        # Said on stderr, so a test knows the request reached its worker.
        sys.stderr.write("transform_fn: sleeping %s s\n" % data[6:].decode())
        sys.stderr.flush()
        time.sleep(float(data[6:]))
    return b"%s/%s/%s" % (model.encode(), content_type.encode(), data), "application/x-echo"
