"""Records inference.json: runs each request through the inference toolkit's
Transformer (and the model server's rule for turning a handler's return
value into bytes) and through sagekit's adapter, in process, and prints
every difference not listed in DEVIATIONS (docs/contract.md's table).

    INFERENCE_TOOLKIT=path/to/sagemaker-inference-toolkit (a git checkout)
    MULTI_MODEL_SERVER=path/to/multi-model-server (a git checkout)
    /usr/bin/python3 record_inference.py ../../python/sagekit_worker.py inference.json

Needs numpy and scipy. The toolkit's code is imported from its checkout,
and the tags name the file and line each vector exercises.
"""
import base64, io, json, os, re, subprocess, sys, traceback, warnings
warnings.simplefilter("ignore")
import numpy as np
import scipy.sparse

HERE = os.path.dirname(os.path.abspath(__file__))
INF_REPO = os.environ["INFERENCE_TOOLKIT"]
MMS_REPO = os.environ["MULTI_MODEL_SERVER"]
WORKER = sys.argv[1]
OUT = sys.argv[2]
VEC = HERE
sys.path.insert(0, os.path.join(INF_REPO, "src"))
sys.path.insert(0, VEC)
sys.path.insert(0, os.path.dirname(WORKER))

def git(repo, *args):
    d = os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo
    return subprocess.check_output(["git", "--git-dir", d] + list(args)).decode()


def commit(repo):
    return git(repo, "rev-parse", "HEAD").strip()

COMMITS = {"aws/sagemaker-inference-toolkit": commit(INF_REPO), "awslabs/multi-model-server": commit(MMS_REPO)}
REPOS = {"aws/sagemaker-inference-toolkit": INF_REPO, "awslabs/multi-model-server": MMS_REPO}
_files = {}

def tag(repo, path, needle):
    key = (repo, path)
    if key not in _files:
        _files[key] = git(REPOS[repo], "show", "HEAD:" + path).split("\n")
    for i, line in enumerate(_files[key]):
        if needle in line:
            return "%s@%s:%s#L%d" % (repo, COMMITS[repo][:12], path, i + 1)
    raise SystemExit("no %r in %s" % (needle, path))

INF = "aws/sagemaker-inference-toolkit"
MMS = "awslabs/multi-model-server"
def T(path, needle):
    return tag(INF, "src/sagemaker_inference/" + path, needle)
def M(path, needle):
    return tag(MMS, path, needle)

# ------------------------------------------------------------ the toolkit

from sagemaker_inference.transformer import Transformer


class ReqProc(object):
    def __init__(self, headers):
        self.h = dict(headers)
    def get_request_properties(self):
        return self.h


class Ctx(object):
    def __init__(self, headers):
        self.system_properties = {"model_dir": "/nonexistent/model"}
        self.request_processor = [ReqProc(headers)]
        self.status = None
        self.ct = None
    def set_response_status(self, code, phrase):
        self.status = (code, phrase)
    def set_response_content_type(self, idx, ct):
        self.ct = ct


TRACE = "\nTraceback (most recent call last):"


def toolkit(module, headers, body, env):
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ["SAGEMAKER_PROGRAM"] = module
    try:
        t = Transformer()
        ctx = Ctx(headers)
        try:
            t.validate_and_initialize(model_dir="/nonexistent/model", context=ctx)
        except Exception as e:
            return {"load_error": True}
        ret = t.transform([{"body": bytearray(body)}], ctx)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return wire(ret[0], ctx.status[0] if ctx.status else 200, ctx.ct)


def wire(val, status, ct):
    if isinstance(val, (bytes, bytearray)):
        b = bytes(val)
    elif isinstance(val, str):
        b = val.encode("utf-8")
    else:
        try:
            b = json.dumps(val, indent=2).encode("utf-8")
        except TypeError:
            return {"status": 503, "error_message": "Unsupported model output data type."}
    if status != 200:
        text = b.decode("utf-8", "replace")
        return {"status": status, "error_message": re.sub(" at 0x[0-9a-f]+>", " at 0x…>", text.split(TRACE)[0])}
    out = {"status": 200, "content_type": ct}
    try:
        out["body"] = b.decode("utf-8")
    except UnicodeDecodeError:
        out["body_b64"] = base64.b64encode(b).decode()
    return out

# ------------------------------------------------------------- sagekit

from sagekit_adapter.toolkit import HandlerApp


def sagekit(module, headers, body, env):
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        try:
            app = HandlerApp(module, "/nonexistent/model")
        except Exception:
            return {"load_error": True}
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/invocations", "wsgi.input": io.BytesIO(body)}
        for k, v in headers:
            key = k.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = v
            else:
                environ["HTTP_" + key] = v
        state = []
        def start_response(status, hdrs, exc_info=None):
            state[:] = [status, hdrs]
        chunks = app(environ, start_response)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    status = int(state[0].split()[0])
    ct = dict(state[1]).get("Content-Type")
    return wire(b"".join(chunks), status, ct)

# --------------------------------------------------------------- cases

cases = []


def case(id, source, module, headers, body, env=None, note=""):
    if isinstance(body, str):
        body = body.encode("utf-8")
    cases.append(dict(id=id, source=source, module=module, headers=headers, body=body, env=env or {}, note=note))


JSON, CSV, NPY, NPZ = "application/json", "text/csv", "application/x-npy", "application/x-npz"
src_dec = lambda k: T("decoder.py", {"json": "def _json_to_numpy", "csv": "np.genfromtxt", "npy": "np.load(stream, allow_pickle=True)", "npz": "scipy.sparse.load_npz", "map": "decoder = _decoder_map[content_type]"}[k])
src_enc = lambda k: T("encoder.py", {"json": "json.dumps(array_like, default=default)", "csv": "np.savetxt", "npy": "np.save(buffer", "map": "encoder = _encoder_map[content_type]"}[k])

json_bodies = [
    ("ints", "[1, 2, 3]"), ("floats", "[1.5, 2]"), ("matrix", "[[1, 2], [3, 4]]"),
    ("ragged", "[[1, 2], [3]]"), ("object", '{"a": 1}'), ("number", "5"), ("string", '"text"'),
    ("true", "true"), ("null", "null"), ("empty-array", "[]"), ("bools", "[true, false]"),
    ("strings", '["a", "bc"]'), ("mixed", '[1, "a"]'), ("float", "3.5"), ("extremes", "[1e308, -1e-308]"),
    ("deep", "[[[1]]]"), ("whitespace", "  [1, 2]  \n"), ("nan", "[NaN, 1]"), ("infinity", "[Infinity]"),
    ("instances", '{"instances": [[1, 2]]}'), ("broken", "[1, 2"), ("empty-body", ""),
    ("big-int", "[12345678901234567890]"), ("unicode", '["caf\\u00e9"]'), ("with-null", "[1, null]"),
    ("negative-zero", "[-0.0, 0]"), ("exponent-ints", "[1E2, 2]"), ("trailing-garbage", "[1] x"),
]
for name, body in json_bodies:
    case("decode-json-" + name, src_dec("json"), "describe", [("Content-Type", JSON), ("Accept", JSON)], body)

csv_bodies = [
    ("one-row", "1,2,3"), ("two-rows", "1,2,3\n4,5,6\n"), ("float-column", "1.5,2,3"),
    ("int-and-float-columns", "1,2.5\n3,4\n"), ("header-row", "a,b\n1,2"), ("missing-value", "1,,3"),
    ("one-column", "1\n2\n3"), ("scalar", "5"), ("empty-body", ""), ("ragged", "1,2\n3"),
    ("crlf", "1,2\r\n3,4\r\n"), ("spaces", " 1 , 2 "), ("nan", "nan,1"), ("booleans", "True,False"),
    ("exponents", "1e3,2E-2"), ("signs", "-1,+2"), ("hex", "0x10,1"), ("comment-line", "#comment\n1,2"),
    ("trailing-comment", "1,2 # note"), ("quoted", '"1","2"'), ("semicolons", "1;2"),
    ("negative-floats", "-1.5,-2.25\n3.0,4.0"), ("big-int", "12345678901234567890,1"),
    ("blank-lines", "1,2\n\n3,4\n"), ("all-floats-2d", "0.1,0.2\n0.3,0.4"), ("text", "hello,world"),
]
for name, body in csv_bodies:
    case("decode-csv-" + name, src_dec("csv"), "describe", [("Content-Type", CSV), ("Accept", JSON)], body)


def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


npy_bodies = [
    ("float64", np.array([0.5, 1.5])), ("int32-2d", np.array([[1, 2], [3, 4]], dtype=np.int32)),
    ("bool", np.array([True, False])), ("float32-3d", np.arange(8, dtype=np.float32).reshape(2, 2, 2)),
    ("unicode", np.array(["ab", "c"])), ("scalar", np.array(3.25)), ("empty", np.zeros((0, 3))),
    ("uint8", np.array([0, 255], dtype=np.uint8)), ("fortran", np.asfortranarray(np.arange(6).reshape(2, 3))),
    ("big-endian", np.array([1, 2], dtype=">i4")), ("int64", np.array([-1, 2**40])),
    ("complex", np.array([1 + 2j])), ("structured", np.array([(1, 2.5)], dtype=[("a", "<i4"), ("b", "<f8")])),
]
for name, a in npy_bodies:
    case("decode-npy-" + name, src_dec("npy"), "describe", [("Content-Type", NPY), ("Accept", JSON)], npy(a))
case("decode-npy-object-array", src_dec("npy"), "describe", [("Content-Type", NPY), ("Accept", JSON)], npy(np.array([{"a": 1}], dtype=object)),
     note="an object array is a pickle")
case("decode-npy-empty-body", src_dec("npy"), "describe", [("Content-Type", NPY), ("Accept", JSON)], b"")
case("decode-npy-garbage", src_dec("npy"), "describe", [("Content-Type", NPY), ("Accept", JSON)], b"not npy")
for name, m in [("csr", scipy.sparse.csr_matrix(np.array([[0, 1], [2, 0]]))), ("csc", scipy.sparse.csc_matrix(np.eye(2))), ("coo", scipy.sparse.coo_matrix(np.array([[0.5, 0], [0, 0]])))]:
    b = io.BytesIO()
    scipy.sparse.save_npz(b, m)
    case("decode-npz-" + name, src_dec("npz"), "describe", [("Content-Type", NPZ), ("Accept", JSON)], b.getvalue())

for name, ct in [("text-plain", "text/plain"), ("octet-stream", "application/octet-stream"), ("json-charset", "application/json; charset=utf-8"),
                 ("csv-charset", "text/csv; charset=utf-8"), ("json-upper", "APPLICATION/JSON"), ("csv-space", "text/csv "), ("jsonlines", "application/jsonlines"), ("image", "image/png")]:
    body = "[1, 2]" if "json" in ct.lower() else "1,2"
    case("decode-type-" + name, src_dec("map"), "describe", [("Content-Type", ct), ("Accept", JSON)], body)
case("decode-type-missing", src_dec("map"), "describe", [("Accept", JSON)], "[1, 2]")

# Encoders: the default output_fn for each prediction and Accept type.
import fixtures
for name in fixtures.PREDICTIONS:
    for accept, key in [(JSON, "json"), (CSV, "csv"), (NPY, "npy")]:
        case("encode-%s-%s" % (key, name), src_enc(key), "fixtures", [("Content-Type", "text/plain"), ("Accept", accept)], name)
ac = T("default_inference_handler.py", "for content_type in utils.parse_accept(accept)")
pa = T("utils.py", 'return accept.replace(" ", "").split(",")')
da = T("transformer.py", "if not accept or accept == content_types.ANY")
for name, accept in [("first-supported", "text/plain, text/csv"), ("json-before-csv", "application/json, text/csv"),
                     ("csv-before-json", "text/csv,application/json"), ("spaces", " text/csv , application/json"),
                     ("unsupported", "text/plain"), ("wildcard-type", "application/*"), ("q-value", "application/json;q=0.9"),
                     ("charset", "application/json; charset=utf-8"), ("npy-first", "application/x-npy, application/json"),
                     ("npz-not-an-encoder", "application/x-npz"), ("wildcard-in-list", "*/*, text/csv"), ("upper", "TEXT/CSV")]:
    case("accept-" + name, pa if " " in accept else ac, "fixtures", [("Content-Type", "text/plain"), ("Accept", accept)], "int-list")
case("accept-missing-default-json", da, "fixtures", [("Content-Type", "text/plain")], "int-list")
case("accept-any-default-json", da, "fixtures", [("Content-Type", "text/plain"), ("Accept", "*/*")], "int-list")
envsrc = tag(INF, "src/sagemaker_inference/environment.py", "parameters.DEFAULT_INVOCATIONS_ACCEPT_ENV, content_types.JSON")
case("accept-missing-env-default-csv", envsrc, "fixtures", [("Content-Type", "text/plain")], "nested-list", env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": CSV})
case("accept-any-env-default-csv", envsrc, "fixtures", [("Content-Type", "text/plain"), ("Accept", "*/*")], "nested-list", env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": CSV})
case("accept-explicit-beats-env-default", envsrc, "fixtures", [("Content-Type", "text/plain"), ("Accept", JSON)], "nested-list", env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": CSV})
case("accept-env-default-unsupported", envsrc, "fixtures", [("Content-Type", "text/plain")], "int-list", env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/plain"})

# What a custom output_fn's return value becomes on the wire.
import returns
wsrc = M("mms/protocol/otf_message_handler.py", "json_value = json.dumps(val, indent=2)")
for name in returns.RETURNS:
    src = wsrc
    if name.startswith("tuple"):
        src = T("transformer.py", "if isinstance(result, tuple):")
    elif name in ("str", "str-unicode", "str-json", "empty-str"):
        src = M("mms/protocol/otf_message_handler.py", "elif isinstance(val, str):")
    elif "bytes" in name or name == "bytearray":
        src = M("mms/protocol/otf_message_handler.py", "if isinstance(val, (bytes, bytearray)):")
    case("return-" + name, src, "returns", [("Content-Type", "text/plain"), ("Accept", JSON)], name)
for name in ("dict", "list", "none", "str"):
    case("return-%s-accept-csv" % name, wsrc, "returns", [("Content-Type", "text/plain"), ("Accept", CSV)], name)
case("return-dict-accept-missing", wsrc, "returns", [("Content-Type", "text/plain")], "dict")

# Errors in each handler.
esrc = T("transformer.py", "GenericInferenceToolkitError(http_client.INTERNAL_SERVER_ERROR, str(e))")
bsrc = T("transformer.py", "return self.handle_error(context, e, trace)")
for stage in ("input", "predict", "output"):
    for kind, msg in [("ValueError", "bad value"), ("KeyError", "missing"), ("RuntimeError-empty", ""), ("Base", "404|not here|Nope"),
                      ("Base", "503|busy|later"), ("Generic", "422"), ("Teapot", "short and stout"), ("Unsupported", "text/x-custom"),
                      ("ZeroDivisionError", ""), ("Exception", "plain")]:
        src = bsrc if kind in ("Base", "Generic", "Teapot") else esrc
        suffix = kind if kind != "Base" else "Base-" + msg.split("|")[0]
        case("raise-%s-%s" % (stage, suffix), src, "raises", [("Content-Type", "text/plain"), ("Accept", JSON)], "%s:%s:%s" % (stage, kind, msg))
case("raise-none", esrc, "raises", [("Content-Type", "text/plain"), ("Accept", JSON)], "nothing")
case("raise-empty-body", esrc, "raises", [("Content-Type", "text/plain"), ("Accept", JSON)], "")
case("raise-model-fn", T("transformer.py", "self._model = self._run_handler_function(self._model_fn"), "badmodel", [("Content-Type", JSON)], "[1]")

# transform_fn, the context argument, and the Content-Type header's spellings.
tsrc = T("transformer.py", "self._transform_fn, *(self._model, input_data, content_type, accept)")
usrc = T("transformer.py", "if content_type in content_types.UTF8_TYPES:")
hsrc = T("utils.py", 'CONTENT_TYPE_REGEX = re.compile("^[Cc]ontent-?[Tt]ype")')
for name, headers, body in [
        ("json-is-text", [("Content-Type", JSON), ("Accept", "application/x-custom")], "[1]"),
        ("csv-is-text", [("Content-Type", CSV), ("Accept", "application/x-custom")], "1,2"),
        ("json-charset-is-bytes", [("Content-Type", JSON + "; charset=utf-8"), ("Accept", "application/x-custom")], "[1]"),
        ("other-is-bytes", [("Content-Type", "application/x-custom"), ("Accept", "application/x-custom")], "\u00e9"),
        ("npy-is-bytes", [("Content-Type", NPY), ("Accept", "application/x-custom")], "x"),
        ("empty-body", [("Content-Type", JSON), ("Accept", "application/x-custom")], ""),
        ("accept-default", [("Content-Type", JSON)], "[1]"),
        ("accept-any", [("Content-Type", JSON), ("Accept", "*/*")], "[1]"),
        ("raises", [("Content-Type", "text/plain"), ("Accept", JSON)], "raise"),
        ("returns-dict", [("Content-Type", "text/plain"), ("Accept", JSON)], "dict")]:
    case("transform-" + name, usrc if "text" in name or "bytes" in name else tsrc, "transform", headers, body)
for name, hname in [("canonical", "Content-Type"), ("no-dash", "ContentType"), ("lower", "content-type"), ("camel-no-dash", "contentType"),
                    ("lower-no-dash", "contenttype"), ("upper", "CONTENT-TYPE")]:
    case("header-" + name, hsrc, "transform", [(hname, CSV), ("Accept", "application/x-custom")], "1,2")
case("header-missing", T("utils.py", "    return None"), "transform", [("Accept", "application/x-custom")], "1,2")
csrc = T("transformer.py", "elif num_func_input == len(argv) + 1:")
for name, ct, accept, body in [("json", JSON, JSON, "[1]"), ("csv", CSV, CSV, "1,2"), ("custom", "application/x-custom", "text/plain", "abc"), ("empty", JSON, JSON, "")]:
    case("context-" + name, csrc, "context", [("Content-Type", ct), ("Accept", accept)], body)

# Round trips through the default input_fn and output_fn.
for name, ct, body, accept in [
        ("json-json", JSON, "[[1, 2], [3, 4]]", JSON), ("json-csv", JSON, "[[1, 2], [3, 4]]", CSV), ("json-npy", JSON, "[[1.5, 2]]", NPY),
        ("csv-json", CSV, "1,2\n3,4", JSON), ("csv-csv", CSV, "1,2.5\n3,4.5", CSV), ("csv-npy", CSV, "1,2\n3,4", NPY),
        ("npy-npy-float", NPY, npy(np.array([[0.5, 1.0]])), NPY), ("npy-npy-int", NPY, npy(np.arange(4, dtype=np.int16)), NPY),
        ("npy-npy-bool", NPY, npy(np.array([True])), NPY), ("npy-json", NPY, npy(np.array([1, 2])), JSON),
        ("npy-csv", NPY, npy(np.array([[1, 2], [3, 4]])), CSV), ("csv-json-floats", CSV, "0.1,0.2", JSON),
        ("json-json-strings", JSON, '["a", "b"]', JSON), ("json-csv-strings", JSON, '[["a", "b"]]', CSV),
        ("csv-json-mixed-columns", CSV, "1,2.5\n3,4", JSON)]:
    src = src_enc({JSON: "json", CSV: "csv", NPY: "npy"}[accept])
    case("roundtrip-" + name, src, "echo", [("Content-Type", ct), ("Accept", accept)], body)

# The default predict_fn.
case("default-predict", T("default_inference_handler.py", "Please provide a predict_fn implementation."), "defaults", [("Content-Type", JSON), ("Accept", JSON)], "[1, 2]")

# ------------------------------------------------------------- record

DEVIATIONS = {
 "decode-type-json-charset": "IN-1",
 "decode-type-csv-charset": "IN-1",
 "decode-type-json-upper": "IN-1",
 "decode-type-csv-space": "IN-1",
 "accept-q-value": "IN-2",
 "accept-charset": "IN-2",
 "accept-upper": "IN-2",
 "return-dict-with-np-int": "IN-3",
 "return-dict-with-np-array": "IN-3",
 "return-np-array": "IN-3",
 "header-upper": "IN-4",
 "default-predict": "IN-5",
 "decode-npy-object-array": "IN-6",
 "decode-npy-empty-body": "IN-6",
 "decode-npy-garbage": "IN-6"
}

out = []
diffs = 0
for c in cases:
    tk = toolkit(c["module"], c["headers"], c["body"], c["env"])
    sk = sagekit(c["module"], c["headers"], c["body"], c["env"])
    v = {"id": c["id"], "source": c["source"], "handler": c["module"]}
    if c["env"]:
        v["env"] = c["env"]
    v["headers"] = [list(h) for h in c["headers"]]
    try:
        v["body"] = c["body"].decode("utf-8")
    except UnicodeDecodeError:
        v["body_b64"] = base64.b64encode(c["body"]).decode()
    if c["note"]:
        v["note"] = c["note"]
    dev = DEVIATIONS.get(c["id"])
    if tk != sk and dev is None:
        diffs += 1
        print("DIFF %s\n  toolkit %s\n  sagekit %s" % (c["id"], json.dumps(tk)[:400], json.dumps(sk)[:400]))
    if dev is not None:
        if tk == sk:
            print("NOT A DIFF ANY MORE %s" % c["id"])
        v["deviation"] = dev
        v["toolkit"] = tk
        v["want"] = sk
    else:
        v["want"] = tk
    out.append(v)

doc = {"toolkit": COMMITS, "count": len(out),
       "about": "Requests to an inference.py served by the inference toolkit (the answers under want, recorded from "
                "its Transformer and the model server's encoding of a handler's return value) and by sagekit's "
                "adapter. A vector with a deviation holds sagekit's documented answer under want and the toolkit's "
                "under toolkit; docs/contract.md lists the deviation. error_message is the body before the traceback.",
       "vectors": out}
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("%d vectors, %d undocumented differences" % (len(out), diffs), file=sys.stderr)
