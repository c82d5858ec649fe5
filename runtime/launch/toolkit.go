package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/runtime/codedir"
	"github.com/sagekit/sagekit/runtime/s3get"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Kinds of entry point, as the toolkit's _entry_point_type names them.
const (
	entryProgram = "PYTHON_PROGRAM"
	entryPackage = "PYTHON_PACKAGE"
	entryCommand = "COMMAND"
)

// Failure kinds (the toolkit's exception class names, which open its
// failure file).
const (
	errExecuteUserScript  = "ExecuteUserScriptError"
	errInstallModule      = "InstallModuleError"
	errInstallRequirement = "InstallRequirementsError"
	errFramework          = "Framework Error"
)

// frameworkBootstrap imports SAGEMAKER_TRAINING_MODULE's module and calls
// its function, as the toolkit's trainer does in its own process.
const frameworkBootstrap = `import importlib, sys
m, _, f = sys.argv[1].partition(":")
sys.argv = sys.argv[:1]
getattr(importlib.import_module(m), f)()
`

// install is one step run before the program (pip).
type install struct {
	argv []string
	kind string
}

// prepareToolkit decides, in toolkit mode, what to run: the function named
// by SAGEMAKER_TRAINING_MODULE, or the entry point from the code directory
// run as the toolkit runs it. It reports false when neither applies (the
// entry point is not in the code directory), and the launcher's own
// resolution takes over.
func prepareToolkit(ctx context.Context, p *prepared, tenv *toolkit.Environment, env *environ, name string, args []string, opts Options) (bool, int, error) {
	code := opts.Paths.Code()
	limits, err := extract.LimitsFromEnv(func(k string) string { v, _ := env.lookup(k); return v })
	if err != nil {
		return false, ExitConfigError, err
	}
	if err := codedir.Fill(ctx, tenv.ModuleDir, code, s3Config(tenv, env), limits); err != nil {
		if strings.HasPrefix(tenv.ModuleDir, "s3://") {
			err = fmt.Errorf("%w (or put the code in %s, in the image or through a channel)", err, code)
		}
		return false, ExitConfigError, fmt.Errorf("sagemaker_submit_directory: %w", err)
	}
	python, perr := lookPath(opts.Python, opts.Dir)
	if mod, _ := env.lookup(toolkit.EnvTrainingModule); mod != "" {
		if perr != nil {
			return false, ExitProgramNotFound, fmt.Errorf("running %s=%s: Python interpreter: %w (set SAGEKIT_PYTHON)", toolkit.EnvTrainingModule, mod, perr)
		}
		p.path, p.argv, p.failKind = python, []string{opts.Python, "-c", frameworkBootstrap, mod}, errFramework
		p.dir = opts.Dir
		if isDir(code) {
			p.dir = code
		}
		return true, 0, nil
	}
	if name == "" || filepath.IsAbs(name) {
		return false, 0, nil
	}
	entry := filepath.Join(code, name)
	if fi, err := os.Stat(entry); err != nil || !fi.Mode().IsRegular() {
		return false, 0, nil
	}
	kind := entryType(code, name)
	p.dir = code
	switch kind {
	case entryPackage:
		argv := []string{opts.Python, "-m", "pip", "install", "."}
		if exists(filepath.Join(code, "requirements.txt")) {
			argv = append(argv, "-r", "requirements.txt")
		}
		p.installs = append(p.installs, install{argv: argv, kind: errInstallModule})
	case entryProgram:
		if exists(filepath.Join(code, "requirements.txt")) {
			p.installs = append(p.installs, install{argv: []string{opts.Python, "-m", "pip", "install", "-r", "requirements.txt"}, kind: errInstallRequirement})
		}
	}
	if (kind == entryPackage || kind == entryProgram) && perr != nil {
		return false, ExitProgramNotFound, fmt.Errorf("running %s: Python interpreter: %w (set SAGEKIT_PYTHON)", entry, perr)
	}
	p.failKind = errExecuteUserScript
	switch kind {
	case entryPackage:
		p.path, p.argv = python, append([]string{opts.Python, "-m", strings.TrimSuffix(name, ".py")}, args...)
	case entryProgram:
		p.path, p.argv = python, append([]string{opts.Python, name}, args...)
	default:
		// The toolkit makes the entry point executable and runs it through
		// the shell, its arguments quoted for it.
		if err := os.Chmod(entry, 0o777); err != nil {
			return false, ExitNotExecutable, fmt.Errorf("making %s executable: %w", entry, err)
		}
		line := "./" + name
		for _, a := range args {
			line += " " + shellQuote(a)
		}
		p.path, p.argv = "/bin/sh", []string{"/bin/sh", "-c", line}
	}
	return true, 0, nil
}

// stripLastQuotes is the toolkit's cmd[-1].strip('"'): it strips double
// quotes from both ends of the last element of the command it runs (meant
// for its quoted shell line), so the last argument of a Python entry point
// loses them too. Programs written for the toolkit see that value; so do
// they here.
func stripLastQuotes(argv []string) {
	if n := len(argv); n > 0 {
		argv[n-1] = strings.Trim(argv[n-1], `"`)
	}
}

// entryType is the toolkit's _entry_point_type.get.
func entryType(code, name string) string {
	switch {
	case strings.HasSuffix(name, ".sh"):
		return entryCommand
	case exists(filepath.Join(code, "setup.py")):
		return entryPackage
	case strings.HasSuffix(name, ".py"):
		return entryProgram
	}
	return entryCommand
}

// shellQuote is Python's shlex.quote.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// s3Config is where the toolkit's s3_download looks: the region from
// AWS_REGION, else SAGEMAKER_REGION (the sagemaker_region hyperparameter or
// AWS_DEFAULT_REGION); the endpoint from S3_ENDPOINT_URL, else the AWS
// SDKs' AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL.
func s3Config(tenv *toolkit.Environment, env *environ) s3get.Config {
	lookup := func(k string) string { v, _ := env.lookup(k); return v }
	c := s3get.FromEnv(lookup)
	if r := lookup(s3get.EnvRegion); r != "" {
		c.Region = r
	} else {
		for _, v := range tenv.ProcessVars {
			if v.Name == optml.EnvRegion && v.Value != "" {
				c.Region = v.Value
			}
		}
	}
	if e := lookup(toolkit.EnvS3Endpoint); e != "" {
		c.Endpoint = e
	}
	return c
}

// pipEnv is the environment of the install steps: Debian's pip refuses to
// install into the system Python without PIP_BREAK_SYSTEM_PACKAGES, and
// the version check would reach for the network.
func pipEnv(env []string) []string {
	e := newEnviron(env)
	for k, v := range map[string]string{
		"PIP_BREAK_SYSTEM_PACKAGES":     "1",
		"PIP_DISABLE_PIP_VERSION_CHECK": "1",
		"PIP_ROOT_USER_ACTION":          "ignore",
	} {
		if _, ok := e.lookup(k); !ok {
			e.set(k, v)
		}
	}
	return e.list()
}

// runInstalls runs the install steps in order; a failing step ends the job
// as the toolkit's Install*Error does (exit 1, its failure text).
func runInstalls(ctx context.Context, opts Options, p prepared) (int, error) {
	for _, in := range p.installs {
		opts.Logger.Info("installing", "argv", in.argv, "dir", p.dir)
		t := newTail(opts.TailLines, maxTailLine)
		cmd := exec.CommandContext(ctx, p.path, in.argv[1:]...)
		cmd.Args[0] = in.argv[0]
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.dir, pipEnv(p.env), opts.Stdout, io.MultiWriter(opts.Stderr, t)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return fail(opts, ExitConfigError, fmt.Errorf("starting %v: %w", in.argv, err))
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case sig := <-opts.Signals:
				if s, ok := sig.(syscall.Signal); ok {
					_ = syscall.Kill(-cmd.Process.Pid, s)
				}
			}
		}
		if err == nil {
			continue
		}
		rc := 1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				rc = 128 + int(ws.Signal())
			} else {
				rc = ee.ExitCode()
			}
		}
		reason := toolkitReason(in.kind, outcome{code: rc, argv: in.argv, stderrLines: t.Lines()})
		if werr := opts.Paths.WriteFailure(reason); werr != nil && !isExists(werr) {
			return 1, werr
		}
		return 1, nil
	}
	return 0, nil
}

// toolkitReason is the failure text of the toolkit's _CalledProcessError:
// the class name, the exit code, the captured stderr and the command as a
// Python list, cut to SageMaker's 1024 bytes with the head kept whole.
func toolkitReason(kind string, o outcome) string {
	if kind == errFramework {
		head := "Framework Error: \n"
		return head + lastBytes(o.stderrLines, 1024-len(head)) + "\n"
	}
	head := fmt.Sprintf("%s:\nExitCode %d\n", kind, o.code)
	var extra string
	if o.code == 137 {
		extra = "ExtraInfo \"OutOfMemory: Process killed by SIGKILL (signal 9)\"\n"
	}
	cmd := "Command \"" + strings.Join(o.argv, " ") + "\""
	budget := 1024 - len(head) - len(extra) - len("ErrorMessage \"\"\n")
	msg := lastBytes(uniqueLines(o.stderrLines), budget)
	return strings.TrimSpace(head + "ErrorMessage \"" + msg + "\"\n" + extra + cmd)
}

// uniqueLines keeps the first of each repeated line, in order, as the
// toolkit does with the stderr it quotes.
func uniqueLines(lines []string) []string {
	seen := make(map[string]bool, len(lines))
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
