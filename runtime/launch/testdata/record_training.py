"""Records training-vectors.json: each job's config files and environment go
through the training toolkit's Environment and ProcessRunner (the program is
run for real and reports its argv and SM_* environment), and a failing
program through the toolkit's error path, whose text is the failure file.
sagekit_failure is sagekit's documented answer where it deviates
(docs/contract.md's table).

    TRAINING_TOOLKIT=path/to/sagemaker-training-toolkit (a git checkout)
    python3 record_training.py training-vectors.json   (Python 3.11, boto3, six)

The toolkit's probes are fixed (3 CPUs, no GPUs or Neuron cores, no smddp)
and it reports the interpreter as /usr/bin/python3, as the test runs it.
"""
import json, os, shutil, subprocess, sys
import tempfile
WORK = tempfile.mkdtemp(prefix="record-training-")
BASE = os.path.join(WORK, "optml")
os.environ["SAGEMAKER_BASE_DIR"] = BASE
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ.pop("AWS_DEFAULT_REGION", None)
os.environ.pop("AWS_REGION", None)
REPO = os.environ["TRAINING_TOOLKIT"]
sys.path.insert(0, os.path.join(REPO, "src"))
GITDIR = os.path.join(REPO, ".git") if os.path.isdir(os.path.join(REPO, ".git")) else REPO
COMMIT = subprocess.check_output(["git", "--git-dir", GITDIR, "rev-parse", "HEAD"]).decode().strip()
NAME = "aws/sagemaker-training-toolkit"
_files = {}


def T(path, needle):
    path = "src/sagemaker_training/" + path
    if path not in _files:
        _files[path] = subprocess.check_output(["git", "--git-dir", GITDIR, "show", "HEAD:" + path]).decode().split("\n")
    for i, line in enumerate(_files[path]):
        if needle in line:
            return "%s@%s:%s#L%d" % (NAME, COMMIT[:12], path, i + 1)
    raise SystemExit("no %r in %s" % (needle, path))


from sagemaker_training import environment, process, errors
environment.num_gpus = lambda: 0
environment.num_cpus = lambda: 3
environment.num_neurons = lambda instance_type: 0
environment.validate_smddprun = lambda: False
environment.validate_smddpmprun = lambda: False
process.python_executable = lambda: "/usr/bin/python3"
STDERR = os.path.join(WORK, "stderr.txt")
_popen = process.subprocess.Popen


def _popen_capturing(cmd, **kw):
    kw["stderr"] = open(STDERR, "wb")
    return _popen(cmd, **kw)


process.subprocess.Popen = _popen_capturing

DUMP = """import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
with open(os.environ["VECTOR_OUT"], "w") as f:
    json.dump({"argv": sys.argv[1:], "env": env}, f)
"""
OUTFILE = os.path.join(WORK, "vector-out.json")


def layout(v):
    shutil.rmtree(BASE, ignore_errors=True)
    cfg = os.path.join(BASE, "input", "config")
    os.makedirs(cfg)
    os.makedirs(os.path.join(BASE, "code"))
    os.makedirs(os.path.join(BASE, "model"))
    os.makedirs(os.path.join(BASE, "output", "data"))
    with open(os.path.join(cfg, "hyperparameters.json"), "w") as f:
        f.write(v["hyperparameters"])
    if "inputdataconfig" in v:
        with open(os.path.join(cfg, "inputdataconfig.json"), "w") as f:
            f.write(v["inputdataconfig"])
        for ch in json.loads(v["inputdataconfig"]):
            os.makedirs(os.path.join(BASE, "input", "data", ch), exist_ok=True)
    else:
        with open(os.path.join(cfg, "inputdataconfig.json"), "w") as f:
            f.write("{}")
    with open(os.path.join(cfg, "resourceconfig.json"), "w") as f:
        f.write(v.get("resourceconfig", '{"current_host": "algo-1", "hosts": ["algo-1"]}'))
    name = v.get("program_name", "train.py")
    path = os.path.join(BASE, "code", name)
    with open(path, "w") as f:
        f.write(v.get("program", DUMP))
    if not name.endswith(".py"):
        os.chmod(path, 0o777)  # as entry_point.install does for a command


def placeholder(o):
    if isinstance(o, str):
        return o.replace(BASE, "{base}")
    if isinstance(o, list):
        return [placeholder(x) for x in o]
    if isinstance(o, dict):
        return {k: placeholder(x) for k, x in o.items()}
    return o


def run(v):
    layout(v)
    saved = dict(os.environ)
    try:
        os.environ.update(v.get("env", {}))
        os.environ["VECTOR_OUT"] = OUTFILE
        if os.path.exists(OUTFILE):
            os.remove(OUTFILE)
        env = environment.Environment()
        args = env.to_cmd_args()
        env_vars = env.to_env_vars()
        os.environ.update(env_vars)
        runner = process.ProcessRunner(env.user_entry_point, args, env_vars, 1)
        try:
            runner.run(wait=True, capture_error=False)
            failure = None
        except errors.ClientError as e:
            failure = str(e)
            path = os.path.join(BASE, "output", "failure")
            if not os.path.exists(path):
                with open(path, "w") as f:
                    f.write(failure)
        want = {}
        if "program" in v:
            want["exit"] = 0 if failure is None else 1
            p = os.path.join(BASE, "output", "failure")
            want["failure"] = open(p).read() if os.path.exists(p) else None
            lines = open(STDERR, encoding="utf-8", errors="replace").read().rstrip("\n").split("\n")
            v["stderr_lines"] = [l for l in lines if l]
        else:
            if failure is not None:
                raise SystemExit("%s failed: %s" % (v["id"], failure))
            got = json.load(open(OUTFILE))
            want["argv"] = got["argv"]
            want["env"] = got["env"]
        return placeholder(want)
    finally:
        os.environ.clear()
        os.environ.update(saved)


vectors = []


def vec(id, source, hps=None, raw=None, **kw):
    v = {"id": id, "source": source}
    v["hyperparameters"] = raw if raw is not None else json.dumps(hps or {})
    v.update(kw)
    v.setdefault("env", {})
    if "sagemaker_program" not in v["hyperparameters"]:
        v["env"].setdefault("SAGEMAKER_PROGRAM", v.get("program_name", "train.py"))
    vectors.append(v)


HP = T("environment.py", "v = json.loads(v)")
ARG = T("mapping.py", 'return "--%s" % string if len(string) > 1 else "-%s" % string')
VAL = T("mapping.py", "return _decode(value)")
MAPV = T("mapping.py", 'map_items = ["%s=%s" % (k, v) for k, v in sorted(value.items())]')
ENV = T("mapping.py", 'return json.dumps(_mapping, sort_keys=True, separators=(",", ":"), ensure_ascii=True)')
STRIP = T("process.py", "cmd[-1] = cmd[-1].strip('\"')")
KEY = T("mapping.py", 'decoded_name = "SM_%s" % str(key).upper()')

# Hyperparameter values as SageMaker writes them: strings.
string_values = [
    ("plain", "abc"), ("int", "2"), ("float", "0.01"), ("small-float", "1e-05"), ("exp-upper", "1E400"),
    ("negative-zero", "-0.0"), ("nan", "NaN"), ("infinity", "-Infinity"), ("big-int", "123456789012345678901234567890"),
    ("true", "true"), ("True-raw", "True"), ("false", "false"), ("null", "null"), ("quoted", '"abc"'),
    ("quoted-number", '"5"'), ("nested-json", '{"a": {"b": [1, 2]}}'), ("list", "[1, 2]"), ("list-of-strings", '["x", "y"]'),
    ("empty", ""), ("space", "two words"), ("inner-quotes", 'say "hi" now'), ("ends-with-quote", 'say "hi"'),
    ("quoted-with-quotes", '"\\"inner\\""'), ("unicode", "stra\u00dfe"), ("emoji", "\U0001F600"), ("newline", "a\nb"),
    ("tab", "a\tb"), ("backslash", "C:\\path"), ("leading-space", " 7"), ("json-float-int", "2.0"),
    ("float-repr", "0.1"), ("huge-float", "1e16"), ("dict-empty", "{}"), ("list-empty", "[]"),
    ("escaped-unicode", '"\\u00e9"'), ("shell-chars", "$(rm -rf /); `x`"), ("single-quote", "it's"),
    ("comma-list", "a,b,c"), ("equals", "k=v"), ("dash-value", "-1"), ("double-dash-value", "--flag"),
    ("json-bool-list", "[true, null]"), ("nested-list", "[[1, 2], [3]]"), ("float-exp", "2.5e-3"),
    ("broken-json", "{not json"), ("trailing-comma", "[1,]"), ("whitespace-json", " 5 "), ("hex", "0x10"),
    ("duplicate-keys", '{"a": 1, "a": 2}'), ("dict-mixed", '{"b": "x", "a": 1.5, "c": null}'),
]
for name, value in string_values:
    vec("hp-string-" + name, HP, {"value": value})
    vec("hp-last-" + name, STRIP, {"aaa": "1", "zzz": value})

# Values that are not strings (hand-written files, some tools).
for name, raw in [("int", '{"epochs": 10}'), ("float", '{"lr": 0.5}'), ("true", '{"flag": true}'), ("false", '{"flag": false}'),
                  ("null", '{"n": null}'), ("object", '{"cfg": {"depth": 3, "names": ["a", "b"]}}'), ("array", '{"layers": [64, 32]}'),
                  ("mixed", '{"epochs": 3, "name": "x", "on": true}'), ("float-int", '{"x": 1.0}'), ("exp", '{"x": 1e-7}'),
                  ("negative", '{"x": -3}'), ("empty-object", '{"x": {}}'), ("nested-object-last", '{"a": "1", "z": {"k": "v"}}')]:
    vec("hp-nonstring-" + name, HP, raw=raw)

# Keys.
for name, key in [("one-letter", "x"), ("dash", "learning-rate"), ("dot", "a.b"), ("upper", "LR"), ("unicode", "stra\u00dfe"),
                  ("space", "two words"), ("digits", "2nd"), ("underscore-first", "_private"), ("empty", ""),
                  ("sagemaker-prefix", "sagemaker_custom"), ("tuning-metric", "_tuning_objective_metric"), ("dollar", "a$b")]:
    vec("hp-key-" + name, ARG if name != "empty" else KEY, {key: "1", "epochs": "2"})
vec("hp-many-sorted", ARG, {"zeta": "1", "alpha": "2", "Beta": "3", "m": "4"})
vec("hp-sagemaker-program-quoted", HP, {"sagemaker_program": '"train.py"', "epochs": "1"})
vec("hp-sagemaker-program-plain", HP, {"sagemaker_program": "train.py", "epochs": "1"})
vec("hp-sagemaker-reserved", HP, {"sagemaker_region": '"eu-west-1"', "sagemaker_container_log_level": "20",
                                  "sagemaker_job_name": '"job-1"', "sagemaker_enable_metrics": "true", "epochs": "1"})
vec("hp-sagemaker-framework-params", HP, {"sagemaker_mpi_enabled": "true", "sagemaker_mpi_num_of_processes_per_host": "2", "epochs": "1"})

# Channels.
CH = T("environment.py", "def channel_input_dirs")


def chan(**kw):
    c = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    c.update(kw)
    return c


for name, cfg in [
        ("none", {}), ("train", {"train": chan()}), ("train-test", {"train": chan(), "test": chan()}),
        ("three", {"train": chan(), "validation": chan(ContentType="text/csv"), "test": chan(TrainingInputMode="Pipe")}),
        ("content-types", {"train": chan(ContentType="application/x-recordio-protobuf"), "eval": chan(ContentType="text/csv")}),
        ("pipe", {"train": chan(TrainingInputMode="Pipe")}), ("fastfile", {"train": chan(TrainingInputMode="FastFile")}),
        ("sharded", {"train": chan(S3DistributionType="ShardedByS3Key")}), ("recordio", {"train": chan(RecordWrapperType="RecordIO")}),
        ("dash-name", {"train-data": chan()}), ("digit-name", {"ch1": chan(), "ch2": chan()}),
        ("upper-name", {"Train": chan()}), ("order", {"zeta": chan(), "alpha": chan(), "mid": chan()}),
        ("minimal", {"train": {"TrainingInputMode": "File"}}), ("code-channel", {"code": chan(), "train": chan()}),
        ("many", {"c%d" % i: chan() for i in range(6)})]:
    vec("channels-" + name, CH, {"epochs": "1"}, inputdataconfig=json.dumps(cfg))

# Hosts and distribution.
RC = T("environment.py", "def read_resource_config")


def rc(current, hosts, **kw):
    r = {"current_host": current, "hosts": hosts}
    r.update(kw)
    return json.dumps(r)


groups2 = [{"instance_group_name": "g1", "instance_type": "ml.p3.2xlarge", "hosts": ["algo-1"]},
           {"instance_group_name": "g2", "instance_type": "ml.c5.xlarge", "hosts": ["algo-2"]}]
for name, r, hps in [
        ("single", rc("algo-1", ["algo-1"]), {}), ("two-first", rc("algo-1", ["algo-1", "algo-2"]), {}),
        ("two-second", rc("algo-2", ["algo-1", "algo-2"]), {}), ("four-unsorted", rc("algo-3", ["algo-4", "algo-2", "algo-3", "algo-1"]), {}),
        ("eth1", rc("algo-1", ["algo-1"], network_interface_name="eth1"), {}), ("ethwe", rc("algo-1", ["algo-1"], network_interface_name="ethwe"), {}),
        ("instance-type", rc("algo-1", ["algo-1"], current_instance_type="ml.m5.xlarge"), {}),
        ("group-name", rc("algo-1", ["algo-1"], current_group_name="train-group", current_instance_type="ml.c5.2xlarge",
                          instance_groups=[{"instance_group_name": "train-group", "instance_type": "ml.c5.2xlarge", "hosts": ["algo-1"]}]), {}),
        ("hetero", rc("algo-1", ["algo-1", "algo-2"], current_group_name="g1", current_instance_type="ml.p3.2xlarge", instance_groups=groups2), {}),
        ("hetero-other-group", rc("algo-2", ["algo-1", "algo-2"], current_group_name="g2", current_instance_type="ml.c5.xlarge", instance_groups=groups2), {}),
        ("hetero-distribution-groups", rc("algo-1", ["algo-1", "algo-2"], current_group_name="g1", current_instance_type="ml.p3.2xlarge", instance_groups=groups2),
         {"sagemaker_distribution_instance_groups": '["g1"]'}),
        ("mpi", rc("algo-1", ["algo-1", "algo-2"]), {"sagemaker_mpi_enabled": "true", "sagemaker_mpi_num_of_processes_per_host": "4"}),
        ("mpi-custom", rc("algo-1", ["algo-1", "algo-2"]), {"sagemaker_mpi_enabled": "true", "sagemaker_mpi_custom_mpi_options": '"-x NCCL_DEBUG=INFO"'}),
        ("parameter-server", rc("algo-1", ["algo-1", "algo-2"]), {"sagemaker_parameter_server_enabled": "true"}),
        ("smdataparallel", rc("algo-1", ["algo-1", "algo-2"]), {"sagemaker_distributed_dataparallel_enabled": "true"}),
        ("smdataparallel-custom", rc("algo-1", ["algo-1"]), {"sagemaker_distributed_dataparallel_enabled": "true",
                                                              "sagemaker_distributed_dataparallel_custom_mpi_options": '"-verbose"'}),
        ("torch-distributed", rc("algo-1", ["algo-1", "algo-2"]), {"sagemaker_torch_distributed_enabled": "true"}),
        ("pytorch-xla", rc("algo-1", ["algo-1", "algo-2"]), {"sagemaker_pytorch_xla_multi_worker_enabled": "true"}),
        ("topology", rc("algo-1", ["algo-1"], topology=[{"x": 1}]), {}),
        ("current-host-env", rc("algo-1", ["algo-1"]), {}),
        ("custom-hostnames", rc("node-b", ["node-a", "node-b"]), {})]:
    hps = dict(hps, epochs="1")
    vec("hosts-" + name, RC, hps, resourceconfig=r, env={"CURRENT_HOST": "algo-1"} if name == "current-host-env" else {})

# Process environment the toolkit reads.
ENVS = T("environment.py", "self._job_name = os.environ.get(params.TRAINING_JOB_ENV.upper(), None)")
for name, env, hps in [
        ("job-name", {"TRAINING_JOB_NAME": "my-job-1"}, {}), ("region-default", {"AWS_DEFAULT_REGION": "us-west-2"}, {}),
        ("region-hyperparameter", {"AWS_DEFAULT_REGION": "us-west-2"}, {"sagemaker_region": '"eu-central-1"'}),
        ("log-level", {}, {"sagemaker_container_log_level": "10"}), ("log-level-env", {"SAGEMAKER_CONTAINER_LOG_LEVEL": "30"}, {}),
        ("program-env-wins", {"SAGEMAKER_PROGRAM": "train.py"}, {"sagemaker_program": '"other.py"'}),
        ("mp-parameters", {"SM_HP_MP_PARAMETERS": '{"partitions": 2}'}, {}), ("output-s3", {}, {"sagemaker_s3_output": '"s3://bucket/out"'}),
        ("enable-metrics", {}, {"sagemaker_enable_metrics": "false"}),
        ("checkpoint", {}, {"sagemaker_checkpoint_s3_uri": '"s3://b/ck"'}),
        ("user-hp-shadowing-sm", {}, {"model_dir": '"s3://b/model"'}),
        ("framework-module-unset", {"SAGEMAKER_TRAINING_MODULE_X": "ignored"}, {})]:
    vec("env-" + name, ENVS, dict(hps, epochs="1"), env=env)

# Failures: the failure file and exit code.
FAIL = T("errors.py", "message = '%s:\\nExitCode %s\\nErrorMessage \"%s\"\\nCommand \"%s\"' % (")
OOM = T("process.py", 'extra_info = "OutOfMemory: Process killed by SIGKILL (signal 9)"')
WF = T("files.py", "if not os.path.exists(file_path):")
for name, prog, hps, src in [
        ("exit-1", "import sys\nsys.exit(1)\n", {}, FAIL), ("exit-3-args", "import sys\nsys.exit(3)\n", {"epochs": "2", "lr": "0.1"}, FAIL),
        ("exit-255", "import sys\nsys.exit(255)\n", {}, FAIL), ("exit-42-stderr", "import sys\nsys.stderr.write('bad data\\n')\nsys.exit(42)\n", {}, FAIL),
        ("exception", "raise ValueError('learning rate must be positive')\n", {"lr": "-1"}, FAIL),
        ("repeated-lines", "import sys\nfor _ in range(3):\n    sys.stderr.write('again\\n')\nsys.exit(2)\n", {}, FAIL),
        ("quoted-last-arg", "import sys\nsys.exit(1)\n", {"msg": '"hi"'}, STRIP),
        ("stdout-only", "print('progress')\nraise SystemExit(5)\n", {}, FAIL),
        ("sigkill", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", {}, OOM),
        ("sigterm", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", {}, FAIL),
        ("exit-137", "import sys\nsys.exit(137)\n", {}, OOM),
        ("own-failure-file", "import os, sys\nopen(os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure'), 'w').write('my reason')\nsys.exit(4)\n", {}, WF),
        ("own-failure-file-exit-0", "import os\nopen(os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure'), 'w').write('noted')\n", {}, WF),
        ("success", "print('done')\n", {}, T("trainer.py", "files.write_success_file()")),
        ("unicode-stderr", "import sys\nsys.stderr.write('caf\\u00e9 \\u2603\\n')\nsys.exit(1)\n", {}, FAIL),
        ("bad-hyperparameter", "import argparse\np = argparse.ArgumentParser()\np.add_argument('--epochs', type=int)\np.parse_args()\n", {"epochs": "ten"}, FAIL),
        ("missing-channel", "import os, sys\nif 'SM_CHANNEL_TRAIN' not in os.environ:\n    sys.exit('missing channel train')\n", {}, FAIL),
        ("nonstring-hp-args", "import sys\nsys.exit(6)\n", None, FAIL)]:
    if hps is None:
        vec("failure-" + name, src, raw='{"epochs": 3, "deep": {"a": 1}}', program=prog)
    else:
        vec("failure-" + name, src, hps, program=prog)
vec("failure-shell-entry", FAIL, {"epochs": "2"}, program="#!/bin/sh\necho broken >&2\nexit 7\n", program_name="train.sh")
vec("failure-shell-entry-quoted", STRIP, {"msg": "it's"}, program="#!/bin/sh\nexit 9\n", program_name="run.sh")

# ----------------------------------------------------------------- record


def sagekit_failure(v, want):
    """sagekit's documented failure text where it differs from the
    toolkit's: the ErrorMessage quotes the program's stderr, last lines
    first kept, each repeated line once (TR-1); a death by signal n is exit
    code 128+n, with the OOM line for SIGKILL (TR-2)."""
    f = want.get("failure")
    if not f or not f.startswith("ExecuteUserScriptError:\n"):
        return want
    out = dict(want)
    dev = []
    seen, lines = set(), []
    for l in v.get("stderr_lines", []):
        if l not in seen:
            seen.add(l)
            lines.append(placeholder(l))
    if lines:
        f = f.replace('ErrorMessage ""', 'ErrorMessage "%s"' % "\n".join(lines))
        dev.append("TR-1")
    for sig in ("9", "15"):
        if "\nExitCode -%s\n" % sig in f:
            f = f.replace("\nExitCode -%s\n" % sig, "\nExitCode %d\n" % (128 + int(sig)))
            if sig == "9":
                f = f.replace('\nCommand "', '\nExtraInfo "OutOfMemory: Process killed by SIGKILL (signal 9)"\nCommand "')
            dev.append("TR-2")
    if not dev:
        return want
    out["failure"] = f
    out["deviation"] = ",".join(dev)
    return out


out = []
for v in vectors:
    want = run(v)
    rec = {k: v[k] for k in ("id", "source", "hyperparameters", "inputdataconfig", "resourceconfig", "env", "program_name", "program") if k in v}
    sk = sagekit_failure(v, want)
    if sk != want:
        rec["deviation"] = sk.pop("deviation")
        rec["toolkit"] = want
        rec["want"] = sk
    else:
        rec["want"] = want
    out.append(rec)
doc = {"toolkit": {NAME: COMMIT}, "count": len(out),
       "about": "Training jobs (config files as written, process environment, program) and what the training toolkit "
                "gives the program (argv after the entry point, every SM_* variable; {base} is the /opt/ml root) or "
                "leaves behind when it fails (exit code, failure file). A vector with a deviation holds sagekit's "
                "documented answer under want and the toolkit's under toolkit; docs/contract.md lists the deviation.",
       "vectors": out}
with open(sys.argv[1], "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("%d vectors" % len(out), file=sys.stderr)
