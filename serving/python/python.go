// Package python carries sagekit's Python worker adapter inside the runtime
// binary and writes it out when a Python model is served, so images need
// nothing copied in for it.
//
// The adapter (standard library only, Python 3.8+) serves, on the unix
// socket a worker pool gives it, either an existing WSGI app unchanged
// (SAGEKIT_WSGI_APP=module:attr, for example a Flask predictor) or a module
// of inference-toolkit functions (SAGEKIT_HANDLER=module: model_fn,
// input_fn, predict_fn, output_fn or transform_fn).
package python

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed sagekit_worker.py
var workerScript []byte

// ScriptName is the adapter's file name inside the directory Install writes.
const ScriptName = "sagekit_worker.py"

// Install writes the adapter into dir and returns its path.
func Install(dir string) (string, error) {
	path := filepath.Join(dir, ScriptName)
	if err := os.WriteFile(path, workerScript, 0o644); err != nil {
		return "", fmt.Errorf("writing the Python adapter: %w", err)
	}
	return path, nil
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
