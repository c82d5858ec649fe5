package conformance

// The inference-toolkit probe: the model the suite serves, with its code in
// /opt/ml/model/code as SageMaker's framework containers receive it.

// tinEchoModule has only model_fn and predict_fn, so the toolkit's default
// decoders and encoders show. predict_fn answers a decoded {"facts": ...}
// with what model_fn saw, returns a decoded {"encode": rows} as a float
// array for the default encoders, and describes anything else: the type
// the default decoder made and its value.
const tinEchoModule = `"""sagekit conformance probe: model_fn and predict_fn only."""
import os


def model_fn(model_dir):
    facts = {"module": __name__, "model_dir": model_dir, "pid": os.getpid(),
             "pythonpath": os.environ.get("PYTHONPATH", "")}
    try:
        import sagekit_tin_probe_dep
        facts["dep"] = sagekit_tin_probe_dep.VALUE
    except Exception as e:
        facts["dep_error"] = "%s: %s" % (type(e).__name__, e)
    return facts


def _plain(x):
    if hasattr(x, "todense"):
        x = x.todense()
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, (bytes, bytearray)):
        return repr(bytes(x[:64]))
    return x


def _request(data):
    obj = data
    if getattr(data, "shape", None) == () and getattr(getattr(data, "dtype", None), "kind", "") == "O":
        obj = data.item()
    return obj if isinstance(obj, dict) else {}


def predict_fn(data, model):
    req = _request(data)
    if "facts" in req:
        return model
    if "encode" in req:
        try:
            import numpy
        except ImportError:
            return req["encode"]
        return numpy.asarray(req["encode"], dtype=float)
    t = type(data)
    return {"type": t.__module__ + "." + t.__name__, "value": _plain(data)}
`

// tinDefaultModule is inference.py, the module served when
// SAGEMAKER_PROGRAM is unset. Its input_fn reports the type the body
// arrived as; predict_fn raises, sleeps or returns a table on request.
const tinDefaultModule = `"""sagekit conformance probe: the default module, with input_fn."""
import os
import time


def model_fn(model_dir):
    return {"module": __name__}


def input_fn(input_data, content_type):
    if isinstance(input_data, str):
        raw = input_data
    else:
        raw = bytes(input_data).decode("latin-1")
    return {"type": type(input_data).__name__, "raw": raw, "content_type": content_type}


def predict_fn(data, model):
    raw = data["raw"]
    if "sagekit-raise" in raw:
        raise ValueError("sagekit-probe-failure: predict_fn raised on purpose")
    if "sagekit-sleep" in raw:
        time.sleep(0.3)
        return {"pid": os.getpid()}
    if "sagekit-table" in raw:
        return [[1.5, 2.5], [3.5, 4.5]]
    return {"type": data["type"], "module": model["module"]}
`

// tinTransformModule has transform_fn only.
const tinTransformModule = `"""sagekit conformance probe: transform_fn."""
import json
import time


def model_fn(model_dir):
    return {"module": __name__}


def transform_fn(model, data, content_type, accept):
    raw = data if isinstance(data, str) else bytes(data).decode("latin-1")
    if "sagekit-sleep" in raw:
        time.sleep(9)
    return json.dumps({"transform": True, "module": model["module"], "content_type": content_type,
                       "accept": accept}), "application/json"
`

// tinBothModule has transform_fn and predict_fn, which the toolkit refuses.
const tinBothModule = `"""sagekit conformance probe: transform_fn and predict_fn at once."""


def model_fn(model_dir):
    return {"module": __name__}


def predict_fn(data, model):
    return {"served": "predict_fn"}


def transform_fn(model, data, content_type, accept):
    return '{"served": "transform_fn"}', "application/json"
`

// tinDep is the package model_fn imports: only the code directory's wheel
// house has it, so it is there only if requirements.txt was installed.
const (
	tinDepName    = "sagekit-tin-probe-dep"
	tinDepModule  = "sagekit_tin_probe_dep"
	tinDepVersion = "1.0"
	tinDepValue   = "sagekit-tin-probe-dep 1.0 from /opt/ml/model/code/wheels"
)

const tinRequirements = "--no-index\n--find-links /opt/ml/model/code/wheels\n" + tinDepName + "==" + tinDepVersion + "\n"
