package python_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/serving/python"
)

// TestInstallLayout: Install writes the script and every module of its
// package, byte for byte, and returns the script's path; no file of the
// adapter reaches 500 lines.
func TestInstallLayout(t *testing.T) {
	dir := t.TempDir()
	script, err := python.Install(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, python.ScriptName); script != want {
		t.Errorf("Install(%q) = %q, want %q", dir, script, want)
	}
	var names []string
	err = fs.WalkDir(python.Files(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, name)
		want, err := fs.ReadFile(python.Files(), name)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("Install wrote no %s: %v", name, err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("Install wrote %s with other content than the embedded one", name)
		}
		if n := bytes.Count(want, []byte("\n")); n >= 500 {
			t.Errorf("%s has %d lines; keep each module of the adapter under 500", name, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{python.ScriptName, python.PackageName + "/__init__.py", python.PackageName + "/main.py"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("python.Files() = %v, want it to hold %s", names, want)
		}
	}
}

// TestAdapterOverride: SAGEKIT_PYTHON_ADAPTER runs another adapter. A
// changed copy of the installed layout (script and package) serves with
// its change, through the fork server as WSGI apps are served by default;
// a single self-contained file still works as an adapter of its own.
func TestAdapterOverride(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	t.Run("package", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, err := python.Install(dir); err != nil {
			t.Fatal(err)
		}
		server := filepath.Join(dir, python.PackageName, "server.py")
		src, err := os.ReadFile(server)
		if err != nil {
			t.Fatal(err)
		}
		const from, to = `"wsgi.multiprocess": True,`, `"wsgi.multiprocess": False,`
		if strings.Count(string(src), from) != 1 {
			t.Fatalf("%s has no single %s to change", server, from)
		}
		if err := os.WriteFile(server, []byte(strings.Replace(string(src), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, url, exited := runtimeServe(t, testdata(t, "wsgi"), "SAGEMAKER_BASE_DIR="+t.TempDir(), "SAGEKIT_PYTHON="+py,
			"SAGEKIT_WSGI_APP=echo:app", "SAGEMAKER_MODEL_SERVER_WORKERS=1", "SAGEKIT_PYTHON_ADAPTER="+filepath.Join(dir, python.ScriptName))
		if code, _, body := invoke(t, url, "text/plain", "", "x"); code != 202 || !strings.Contains(body, `"multiprocess": false`) {
			t.Errorf("invoke = %d %s, want 202 with \"multiprocess\": false (the changed copy's server.py)", code, body)
		}
		stopAndWait(t, cmd, exited)
	})
	t.Run("single file", func(t *testing.T) {
		t.Parallel()
		single := filepath.Join(t.TempDir(), "my_adapter.py")
		if err := os.WriteFile(single, []byte(singleFileAdapter), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, url, exited := runtimeServe(t, testdata(t, "wsgi"), "SAGEMAKER_BASE_DIR="+t.TempDir(), "SAGEKIT_PYTHON="+py,
			"SAGEKIT_WSGI_APP=echo:app", "SAGEMAKER_MODEL_SERVER_WORKERS=1", "SAGEKIT_PRELOAD=false", "SAGEKIT_PYTHON_ADAPTER="+single)
		if code, _, body := invoke(t, url, "text/plain", "", "x"); code != 200 || body != "single file wsgi echo:app" {
			t.Errorf("invoke = %d %q, want 200 \"single file wsgi echo:app\"", code, body)
		}
		stopAndWait(t, cmd, exited)
	})
}

// singleFileAdapter answers every request with its own arguments.
const singleFileAdapter = `import os, socket, sys
path = os.environ["SAGEKIT_WORKER_SOCKET"]
ln = socket.socket(socket.AF_UNIX)
ln.bind(path)
ln.listen(8)
body = ("single file " + " ".join(sys.argv[1:])).encode()
while True:
    conn, _ = ln.accept()
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            while len(buf) < n:
                buf += conn.recv(65536)
            buf = buf[n:]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    except (EOFError, OSError):
        conn.close()
`
