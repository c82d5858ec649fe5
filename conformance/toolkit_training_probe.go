package conformance

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// The code the suite puts in /opt/ml/code for the toolkit probes, as
// SageMaker's script mode does with a user's source directory.

// tkProbeOut is where every probe writes its record (a file per name), on
// the output data directory the suite reads back.
const tkProbeOut = "/opt/ml/output/data"

// tkProbeLib records what the program was given: argv, environment, working
// directory, interpreter, how it was started (script or -m) and what the
// toolkit probes on the machine.
const tkProbeLib = `import json, os, shutil, sys


def record(name, **extra):
    spec = globals().get("__spec__")
    rec = {
        "argv": sys.argv,
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "executable": sys.executable,
        "file": os.path.basename(globals().get("__file__") or ""),
        "spec": spec.name if spec is not None else None,
        "cpu_count": os.cpu_count(),
        "which": {c: shutil.which(c) for c in ("smddprun", "smddpmprun", "neuron-ls")},
    }
    rec.update(extra)
    tmp = os.path.join(%q, "." + name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(rec, f)
    os.replace(tmp, os.path.join(%q, name + ".json"))
`

func tkProbeScript(name string) []byte {
	return []byte(fmt.Sprintf(tkProbeLib, tkProbeOut, tkProbeOut) + fmt.Sprintf("\n\nif __name__ == \"__main__\":\n    record(%q)\n", name))
}

// tkFailScript exits 3 after a line on stderr.
const tkFailScript = `import sys
sys.stderr.write("sagekit probe: failing on purpose with exit code 3\n")
sys.exit(3)
`

// ownFailureText is what ownFailureScript writes as its own failure reason.
const ownFailureText = "sagekit probe: the program's own failure reason\n"

var ownFailureScript = fmt.Sprintf(`import sys
with open("/opt/ml/output/failure", "w") as f:
    f.write(%q)
sys.exit(2)
`, ownFailureText)

// probeDep is the package only the code directory's wheel house has.
const (
	probeDepName    = "sagekit-probe-dep"
	probeDepModule  = "sagekit_probe_dep"
	probeDepVersion = "1.0"
	probeDepValue   = "installed from /opt/ml/code/wheels"
)

func requirementsScript() []byte {
	return []byte(fmt.Sprintf(tkProbeLib, tkProbeOut, tkProbeOut) + fmt.Sprintf("\n\nimport %s\nrecord(\"req\", value=%s.VALUE)\n", probeDepModule, probeDepModule))
}

func requirementsTxt() []byte {
	return []byte("--no-index\n--find-links /opt/ml/code/wheels\n" + probeDepName + "==" + probeDepVersion + "\n")
}

// frameworkModule is SAGEMAKER_TRAINING_MODULE's module.
const (
	frameworkModuleName = "sagekit_probe_framework"
	frameworkEntry      = frameworkModuleName + ":main"
)

func frameworkScript() []byte {
	return []byte(fmt.Sprintf(tkProbeLib, tkProbeOut, tkProbeOut) + "\n\ndef main():\n    record(\"framework\")\n")
}

// packageSetup makes the code directory a package (python -m); its build
// files go to /tmp, not into the code directory.
const packageSetup = `from setuptools import setup

setup(
    name="sagekit-probe-pkg",
    version="1.0",
    py_modules=["probepkg"],
    options={"egg_info": {"egg_base": "/tmp"}, "build": {"build_base": "/tmp/sagekit-probe-build"}},
)
`

// commandEntry is an entry point that is neither .py nor .sh: the toolkit
// runs it as /bin/sh -c "./run-probe ARGS" from the code directory.
const commandEntry = `#!/bin/sh
for py in python3 python; do
	if command -v "$py" >/dev/null 2>&1; then
		SAGEKIT_PROBE_ARGV0="$0" exec "$py" /opt/ml/code/probe.py "$@"
	fi
done
echo "sagekit probe: no python3 or python on PATH" >&2
exit 127
`

// fakeNvidiaSMI lists two GPUs; exit is its exit status (the toolkit counts
// 0 GPUs when it fails).
func fakeNvidiaSMI(exit int) []byte {
	return []byte(fmt.Sprintf("#!/bin/sh\n[ \"$1\" = \"--list-gpus\" ] || exit 2\nprintf '%%s' '%s'\nexit %d\n", tkGpuListing, exit))
}

// tkWheel builds a minimal valid pure-Python wheel holding one module.
func tkWheel(dist, version, module string, src []byte) (string, []byte, error) {
	norm := strings.ReplaceAll(dist, "-", "_")
	info := norm + "-" + version + ".dist-info/"
	files := []struct {
		name string
		data []byte
	}{
		{module + ".py", src},
		{info + "METADATA", []byte("Metadata-Version: 2.1\nName: " + dist + "\nVersion: " + version + "\n")},
		{info + "WHEEL", []byte("Wheel-Version: 1.0\nGenerator: sagekit-conformance\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	record.WriteString(info + "RECORD,,\n")
	files = append(files, struct {
		name string
		data []byte
	}{info + "RECORD", []byte(record.String())})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Unix(315532800, 0).UTC()})
		if err != nil {
			return "", nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return "", nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return norm + "-" + version + "-py3-none-any.whl", buf.Bytes(), nil
}

// tkTarGz builds a gzip-compressed tar of files (name → content), as the
// Python SDK packs a source directory into sourcedir.tar.gz.
func tkTarGz(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range tkSortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
