// Package python carries sagekit's Python worker adapter inside the runtime
// binary and writes it out when a Python model is served, so images need
// nothing copied in for it: a script (ScriptName) and the package of its
// modules beside it (PackageName).
//
// The adapter (standard library only, Python 3.8+) serves, on the unix
// socket a worker pool gives it, either an existing WSGI app unchanged
// (SAGEKIT_WSGI_APP=module:attr, for example a Flask predictor) or a module
// of inference-toolkit functions (SAGEKIT_HANDLER=module: model_fn,
// input_fn, predict_fn, output_fn or transform_fn).
package python

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The adapter is a script that only starts it and the package beside it
// that holds its code, in modules under 500 lines each.
//
//go:embed sagekit_worker.py sagekit_adapter/*.py
var adapter embed.FS

// ScriptName is the file the interpreter runs, at the top of the directory
// Install writes.
const ScriptName = "sagekit_worker.py"

// PackageName is the directory of the adapter's Python package, beside
// ScriptName; the script imports it from its own directory.
const PackageName = "sagekit_adapter"

// Files is the adapter as Install lays it out: ScriptName and PackageName's
// modules, with slash-separated paths.
func Files() fs.FS { return adapter }

// Install writes the adapter into dir (ScriptName and the PackageName
// directory beside it) and returns the path of the script to run.
func Install(dir string) (string, error) {
	err := fs.WalkDir(adapter, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if d.IsDir() {
			return os.MkdirAll(path, 0o755)
		}
		b, err := adapter.ReadFile(name)
		if err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("writing the Python adapter: %w", err)
	}
	return filepath.Join(dir, ScriptName), nil
}

// WSGICommand is the worker command serving the WSGI app at target
// ("module:attr") with the adapter at script.
func WSGICommand(interpreter, script, target string) []string {
	return []string{interpreter, "-u", script, "wsgi", target}
}

// HandlerCommand is the worker command serving the inference-toolkit
// module with the adapter at script.
func HandlerCommand(interpreter, script, module string) []string {
	return []string{interpreter, "-u", script, "handler", module}
}

// ForkServer turns a command of WSGICommand or HandlerCommand into a fork
// server for worker.WithForkServer: one interpreter imports the app (and,
// for a WSGI app, calls its GET /ping once, where the Flask example loads
// its model; for a handler module, runs model_fn), then forks every worker
// from itself, so that they share those pages copy-on-write.
func ForkServer(command []string) []string {
	out := make([]string, 0, len(command)+1)
	out = append(out, command[:3]...)
	out = append(out, "--fork-server")
	return append(out, command[3:]...)
}
