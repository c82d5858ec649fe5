package launch

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sagekit/sagekit/internal/s3get"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/toolkit"
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
	if err := downloadAndExtract(ctx, tenv.ModuleDir, code, s3Config(tenv, env)); err != nil {
		return false, ExitConfigError, err
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
	if r := lookup("AWS_REGION"); r != "" {
		c.Region = r
	} else {
		for _, v := range tenv.ProcessVars {
			if v.Name == optml.EnvRegion && v.Value != "" {
				c.Region = v.Value
			}
		}
	}
	if e := lookup("S3_ENDPOINT_URL"); e != "" {
		c.Endpoint = e
	}
	return c
}

// downloadAndExtract is the toolkit's files.download_and_extract(uri, code):
// nothing unless code is missing or empty; then a local directory is
// copied, a local or S3 tar (gzip or not) extracted, and any other file
// copied into code.
func downloadAndExtract(ctx context.Context, uri, code string, s3 s3get.Config) error {
	if uri == "" || filepath.Clean(uri) == filepath.Clean(code) {
		return nil
	}
	if err := os.MkdirAll(code, 0o755); err != nil {
		return fmt.Errorf("creating the code directory: %w", err)
	}
	entries, err := os.ReadDir(code)
	if err != nil {
		return fmt.Errorf("reading the code directory: %w", err)
	}
	if len(entries) > 0 {
		return nil
	}
	if strings.HasPrefix(uri, "s3://") {
		tmp, err := os.MkdirTemp("", "sagekit-submit-")
		if err != nil {
			return fmt.Errorf("sagemaker_submit_directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		_, key, err := s3get.ParseURI(uri)
		if err != nil {
			return fmt.Errorf("sagemaker_submit_directory: %w", err)
		}
		local := filepath.Join(tmp, path.Base(key))
		if err := s3.Download(ctx, uri, local); err != nil {
			return fmt.Errorf("sagemaker_submit_directory: %w (or put the code in %s, in the image or through a channel)", err, code)
		}
		uri = local
	}
	fi, err := os.Stat(uri)
	if err != nil {
		return fmt.Errorf("sagemaker_submit_directory: %w", err)
	}
	if fi.IsDir() {
		return os.CopyFS(code, os.DirFS(uri))
	}
	ok, err := extractTar(uri, code)
	if err != nil || ok {
		return err
	}
	b, err := os.ReadFile(uri)
	if err != nil {
		return fmt.Errorf("sagemaker_submit_directory: %w", err)
	}
	return os.WriteFile(filepath.Join(code, filepath.Base(uri)), b, fi.Mode().Perm())
}

// extractTar extracts the tar (gzip-compressed or not) at path into dir; it
// reports false when the file is not a tar.
func extractTar(path, dir string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("sagemaker_submit_directory: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, fmt.Errorf("sagemaker_submit_directory %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	first := true
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return !first, nil
		}
		if err != nil {
			if first {
				return false, nil
			}
			return true, fmt.Errorf("extracting %s: %w", path, err)
		}
		first = false
		name := filepath.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." {
			continue
		}
		if name == ".." || strings.HasPrefix(name, "../") {
			return true, fmt.Errorf("extracting %s: %q leaves the code directory", path, h.Name)
		}
		target := filepath.Join(dir, name)
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return true, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return true, err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return true, err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return true, fmt.Errorf("extracting %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return true, err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return true, err
			}
		}
	}
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
	argv := make([]any, len(o.argv))
	for i, a := range o.argv {
		argv[i] = a
	}
	cmd := "Command \"" + toolkit.Repr(argv) + "\""
	budget := 1024 - len(head) - len(extra) - len("ErrorMessage \"\"\n")
	msg := lastBytes(o.stderrLines, budget)
	return head + "ErrorMessage \"" + msg + "\"\n" + extra + cmd + "\n"
}
