package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Exit codes of the launcher's own failures (the program's own code is
// passed through unchanged).
const (
	ExitConfigError     = 1   // a config file is missing or malformed
	ExitNoProgram       = 2   // no program named anywhere
	ExitNotExecutable   = 126 // the program exists but cannot be run
	ExitProgramNotFound = 127 // the named program does not exist
)

// Defaults.
const (
	DefaultPython    = "python3"
	DefaultGrace     = optml.TrainingStopGraceSeconds * time.Second
	DefaultTailLines = 64
	maxTailLine      = 2048
	// drainTimeout bounds how long stderr is read after the program exits,
	// when a background process it left behind holds the pipe open.
	drainTimeout = time.Second
)

// Options configure Run. The zero value of every field has a useful default.
type Options struct {
	// Paths is the /opt/ml contract. Required.
	Paths optml.Paths
	// Command, when not empty, is run instead of the program named by
	// SAGEMAKER_PROGRAM or the sagemaker_program hyperparameter: the
	// command given after `--`. The hyperparameter arguments are appended
	// unless NoArgs is set.
	Command []string
	// NoArgs leaves the hyperparameter arguments off the command line.
	NoArgs bool
	// Environ is the environment the launcher was started with, as
	// os.Environ gives it. The program inherits it, plus the SM_* variables.
	Environ []string
	// Dir is the working directory relative program names are resolved
	// against and programs outside the code directory run in; default the
	// process's working directory.
	Dir string
	// Python runs .py programs; default "python3" on PATH.
	Python string
	// Grace is how long the program has after a forwarded SIGTERM or SIGINT
	// (or after ctx is cancelled) before its process group is killed with
	// SIGKILL; default 120s, SageMaker's own window.
	Grace time.Duration
	// Signals delivers the signals to forward to the program's process
	// group (the caller does signal.Notify). Nil forwards nothing.
	Signals <-chan os.Signal
	// Stdin, Stdout and Stderr are the program's; defaults: none (the null
	// device), os.Stdout and os.Stderr. An *os.File is handed to the
	// program as is, so its output is not copied; Stderr is always copied
	// through a pipe, chunk by chunk as it arrives, to keep its last lines.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TailLines is how many of the program's last stderr lines are kept
	// for the failure file; default 64.
	TailLines int
	// System, when set, replaces toolkit.Detect (CPU, GPU and Neuron
	// counts).
	System *toolkit.System
	// ReapOrphans makes the launcher reap every child process while it
	// waits, which it must do when it runs as PID 1 in a container.
	ReapOrphans bool
	// HostWait bounds the wait, before the program starts, for every host
	// of a multi-host job to resolve (peers' DNS names may appear late);
	// default 15 minutes, negative skips it. It is skipped, as by the
	// toolkit, when SM_STUDIO_LOCAL_MODE=true.
	HostWait time.Duration
	// Resolver resolves host names; default net.DefaultResolver.
	Resolver Resolver
	// Logger receives progress; default discards.
	Logger *slog.Logger
	// Toolkit makes the launcher behave as sagemaker-training-toolkit
	// where sagekit's own behaviour differs (docs/launcher.md): the code
	// directory is filled from sagemaker_submit_directory when empty,
	// SAGEMAKER_TRAINING_MODULE is run instead of the entry point, an entry
	// point in the code directory is installed (setup.py, requirements.txt)
	// and run as the toolkit runs it, and every failure exits 1 with the
	// toolkit's failure text. Signals are still forwarded.
	Toolkit bool
}

// Run runs the training program and returns the exit code the launcher
// should exit with: the program's own code, 128+n when signal n killed it,
// or one of the Exit* codes when the program could not be started. The
// error is non-nil only for the launcher's own failures (config, program
// not found, failure file not writable); a program that fails is not an
// error. The failure or success file is written before Run returns.
func Run(ctx context.Context, opts Options) (int, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.TailLines <= 0 {
		opts.TailLines = DefaultTailLines
	}
	if opts.Python == "" {
		opts.Python = DefaultPython
	}
	if opts.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fail(opts, ExitConfigError, fmt.Errorf("finding the working directory: %w", err))
		}
		opts.Dir = wd
	}

	if opts.HostWait == 0 {
		opts.HostWait = DefaultHostWait
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}

	p, err := prepare(ctx, opts)
	if err != nil {
		return fail(opts, p.code, err)
	}
	if len(p.hosts) > 1 && opts.HostWait > 0 && !p.localMode {
		if code, err := awaitHosts(ctx, opts, p.hosts); err != nil {
			return fail(opts, code, err)
		}
	}
	if code, err := runInstalls(ctx, opts, p); code != 0 || err != nil {
		return code, err
	}
	return run(ctx, opts, p)
}

// awaitHosts waits for the hosts to resolve while still heeding stop
// signals: a stop before the program starts ends the launcher with 128+n.
func awaitHosts(ctx context.Context, opts Options, hosts []string) (int, error) {
	opts.Logger.Info("waiting for every host to resolve", "hosts", hosts)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- waitForHosts(ctx, opts.Resolver, hosts, opts.HostWait, stop) }()
	var stopped os.Signal
	for {
		select {
		case err := <-done:
			if err == nil {
				return 0, nil
			}
			if stopped != nil {
				code := 143
				if s, ok := stopped.(syscall.Signal); ok {
					code = 128 + int(s)
				}
				return code, fmt.Errorf("stopped by %v while waiting for the cluster's hosts: %w", stopped, err)
			}
			return ExitConfigError, fmt.Errorf("%w: the cluster's hosts did not resolve", err)
		case sig := <-opts.Signals:
			if stopped == nil {
				stopped = sig
				close(stop)
			}
		}
	}
}

// fail writes the failure file for a launcher error and returns code (1 in
// toolkit mode, as the toolkit exits 1 for every failure).
func fail(opts Options, code int, err error) (int, error) {
	if opts.Toolkit && code != 0 {
		code = 1
	}
	// A launcher error may quote a server's answer (fetching the code from
	// S3): the failure file never holds a credential.
	msg := redact.String(err.Error())
	reason := "LauncherError: " + msg + "\n"
	var fe *optml.FileError
	if errors.As(err, &fe) {
		reason = "ConfigError: " + msg + "\n"
	}
	if werr := opts.Paths.WriteFailure(reason); werr != nil && !isExists(werr) {
		err = errors.Join(err, werr)
	}
	return code, err
}

func isExists(err error) bool { return errors.Is(err, optml.ErrFailureExists) }

type prepared struct {
	code      int // exit code when prepare fails
	hosts     []string
	localMode bool
	argv      []string
	path      string
	dir       string
	env       []string
	// installs run before the program (toolkit mode).
	installs []install
	// failKind, when set, makes a failing program's failure file the
	// toolkit's (its first line is failKind) and the exit code 1.
	failKind string
}

func prepare(ctx context.Context, opts Options) (prepared, error) {
	p := prepared{code: ExitConfigError}
	cfg, err := opts.Paths.LoadTraining()
	if err != nil {
		return p, err
	}
	raw, err := toolkit.ReadConfig(opts.Paths)
	if err != nil {
		return p, err
	}
	environ := newEnviron(opts.Environ)
	p.hosts = cfg.Resource.Hosts
	if v, _ := environ.lookup("SM_STUDIO_LOCAL_MODE"); v == "true" {
		p.localMode = true
	}
	var sys toolkit.System
	if opts.System != nil {
		sys = *opts.System
	} else {
		sys = toolkit.Detect(ctx, cfg.Resource.CurrentInstanceType)
	}
	tenv, err := toolkit.New(opts.Paths, raw, sys, environ.lookup)
	if err != nil {
		return p, err
	}
	args := tenv.Args
	if opts.NoArgs {
		args = nil
	}

	if len(opts.Command) > 0 {
		path, err := lookPath(opts.Command[0], opts.Dir)
		if err != nil {
			p.code = ExitProgramNotFound
			return p, err
		}
		p.path, p.dir = path, opts.Dir
		p.argv = append(append([]string{opts.Command[0]}, opts.Command[1:]...), args...)
	} else {
		name, _ := environ.lookup(optml.EnvProgram)
		if name == "" {
			name, _ = tenv.UserEntryPoint.(string)
		}
		done := false
		if opts.Toolkit {
			var code int
			if done, code, err = prepareToolkit(ctx, &p, tenv, environ, name, args, opts); err != nil {
				p.code = code
				return p, err
			}
		}
		if !done && name == "" {
			p.code = ExitNoProgram
			return p, errors.New("no training program: set SAGEMAKER_PROGRAM or the sagemaker_program hyperparameter, or give a command after `sagekit-runtime train --`")
		}
		if !done {
			code, err := resolveProgram(&p, name, args, opts)
			if err != nil {
				p.code = code
				return p, err
			}
		}
	}
	if opts.Toolkit && p.failKind == "" {
		p.failKind = errExecuteUserScript
	}
	if opts.Toolkit && len(opts.Command) == 0 {
		stripLastQuotes(p.argv)
	}

	for _, v := range tenv.ProcessVars {
		environ.set(v.Name, v.Value)
	}
	for _, v := range tenv.Vars {
		environ.set(v.Name, v.Value)
	}
	pythonPath := opts.Paths.Code()
	if old, ok := environ.lookup("PYTHONPATH"); ok && old != "" {
		pythonPath += ":" + old
	}
	environ.set("PYTHONPATH", pythonPath)
	if _, ok := environ.lookup("PYTHONUNBUFFERED"); !ok {
		environ.set("PYTHONUNBUFFERED", "1") // metric lines must not wait in a buffer
	}
	p.env = environ.list()
	return p, nil
}

// resolveProgram finds name (absolute, relative to opts.Dir, relative to
// the code directory, or on PATH) and decides how to run it.
func resolveProgram(p *prepared, name string, args []string, opts Options) (int, error) {
	code := opts.Paths.Code()
	var candidates []string
	if filepath.IsAbs(name) {
		candidates = []string{name}
	} else {
		candidates = []string{filepath.Join(opts.Dir, name), filepath.Join(code, name)}
	}
	var path string
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			path = c
			break
		}
	}
	if path == "" && !strings.Contains(name, "/") {
		if lp, err := exec.LookPath(name); err == nil {
			path = lp
		}
	}
	if path == "" {
		return ExitProgramNotFound, fmt.Errorf("training program %q not found (looked in %s and on PATH): check SAGEMAKER_PROGRAM or the sagemaker_program hyperparameter", name, strings.Join(candidates, ", "))
	}
	p.dir = opts.Dir
	if rel, err := filepath.Rel(code, path); err == nil && !strings.HasPrefix(rel, "..") {
		p.dir = code
	}
	switch {
	case strings.HasSuffix(path, ".py"):
		python, err := lookPath(opts.Python, opts.Dir)
		if err != nil {
			return ExitProgramNotFound, fmt.Errorf("running %s: Python interpreter: %w (set SAGEKIT_PYTHON)", path, err)
		}
		p.path, p.argv = python, append([]string{opts.Python, path}, args...)
	case strings.HasSuffix(path, ".sh"):
		p.path, p.argv = "/bin/sh", append([]string{"/bin/sh", path}, args...)
	default:
		fi, err := os.Stat(path)
		if err != nil {
			return ExitProgramNotFound, fmt.Errorf("running %s: %w", path, err)
		}
		if fi.Mode()&0o111 != 0 {
			p.path, p.argv = path, append([]string{path}, args...)
			break
		}
		interp, err := shebang(path)
		if err != nil {
			return ExitNotExecutable, err
		}
		p.path = interp[0]
		p.argv = append(append(interp, path), args...)
	}
	return 0, nil
}

// shebang reads a "#!interpreter [arg]" line, for scripts without the
// executable bit (the toolkit chmods them; this does not change the file).
func shebang(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := io.ReadFull(f, buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	if !strings.HasPrefix(line, "#!") {
		return nil, fmt.Errorf("training program %s is not executable: chmod +x it, give it a #! line, or name it .py or .sh", path)
	}
	line = strings.TrimSpace(strings.TrimPrefix(line, "#!"))
	interp, arg, hasArg := strings.Cut(line, " ")
	if interp == "" {
		return nil, fmt.Errorf("training program %s has an empty #! line", path)
	}
	out := []string{interp}
	if arg = strings.TrimSpace(arg); hasArg && arg != "" {
		out = append(out, arg)
	}
	return out, nil
}

func lookPath(name, dir string) (string, error) {
	if strings.Contains(name, "/") {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("program %q not found: %w", name, err)
		}
		return path, nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("program %q not found on PATH", name)
	}
	return path, nil
}

// environ is an ordered environment: updates keep a variable's place.
type environ struct {
	names  []string
	values map[string]string
}

func newEnviron(list []string) *environ {
	e := &environ{values: make(map[string]string, len(list)+64)}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		e.set(k, v)
	}
	return e
}

func (e *environ) set(k, v string) {
	if _, ok := e.values[k]; !ok {
		e.names = append(e.names, k)
	}
	e.values[k] = v
}

func (e *environ) lookup(k string) (string, bool) {
	v, ok := e.values[k]
	return v, ok
}

func (e *environ) list() []string {
	out := make([]string, len(e.names))
	for i, k := range e.names {
		out[i] = k + "=" + e.values[k]
	}
	return out
}
