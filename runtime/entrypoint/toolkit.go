package entrypoint

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sagekit/sagekit/runtime/codedir"
	"github.com/sagekit/sagekit/runtime/s3get"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Inference-toolkit mode: a model that carries its own code
// (/opt/ml/model/code, as SageMaker's framework containers and the Python
// SDK's repack lay it out) is served the way sagemaker-inference-toolkit
// serves it. See docs/serving.md, "Inference toolkit mode".

// defaultToolkitModule is the toolkit's module when SAGEMAKER_PROGRAM is
// unset.
const defaultToolkitModule = "inference"

// handlerModule picks the module of inference-toolkit functions to serve,
// in this order:
//
//  1. SAGEMAKER_PROGRAM, when the model's code directory holds that module
//     (the model's environment chooses its entry point);
//  2. inference, when the model's code directory holds inference.py;
//  3. SAGEKIT_HANDLER (the image's own module);
//  4. SAGEMAKER_PROGRAM, found on the Python path.
//
// So an image that sets SAGEKIT_HANDLER (and SAGEMAKER_PROGRAM=train.py for
// training, as sagekit's Python template does) serves its own module unless
// the model brings code. It returns "" when nothing names a module.
func handlerModule(codeDir, handler, program string) string {
	prog := strings.TrimSuffix(program, ".py")
	if prog != "" && hasModule(codeDir, prog) {
		return prog
	}
	if hasModule(codeDir, defaultToolkitModule) {
		return defaultToolkitModule
	}
	if handler != "" {
		return handler
	}
	return prog
}

// submitDirectory is where the handler module's code comes from, given
// SAGEMAKER_SUBMIT_DIRECTORY (sub), the model's code directory and the
// image's code directory: the model's unless sub names another. The Python
// SDK sets sub to the model's code directory when it repacks the code into
// the model, to an s3:// sourcedir.tar.gz when it does not (scikit-learn
// and XGBoost models), and local mode mounts a file:// one at /opt/ml/code.
// An s3:// URI is returned as fetch, to be downloaded into code at start
// (fetchCode) as the toolkits' download_and_extract does.
func submitDirectory(sub, modelCode, code string) (dir, fetch string) {
	switch {
	case sub == "" || filepath.Clean(sub) == filepath.Clean(modelCode):
		return modelCode, ""
	case strings.HasPrefix(sub, "s3://"):
		return code, sub
	}
	return strings.TrimPrefix(sub, "file://"), ""
}

// s3Config is where SAGEMAKER_SUBMIT_DIRECTORY is downloaded from: the
// region from AWS_REGION, else SAGEMAKER_REGION (which the Python SDK sets
// for such models), else AWS_DEFAULT_REGION.
func s3Config(get func(string) string) s3get.Config {
	c := s3get.FromEnv(get)
	if get(s3get.EnvRegion) == "" && get(optml.EnvRegion) != "" {
		c.Region = get(optml.EnvRegion)
	}
	return c
}

// fetchCode fills o.codeDir from the s3:// SAGEMAKER_SUBMIT_DIRECTORY
// (nothing when it already holds code), within the start-up timeout, and
// picks the handler module again from what arrived.
func fetchCode(ctx context.Context, log *slog.Logger, o *serveOptions) error {
	timeout := o.ready
	if timeout <= 0 {
		timeout = optml.DefaultStartupTimeoutSeconds * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := codedir.Fill(ctx, o.fetch, o.codeDir, o.s3, o.limits); err != nil {
		return fmt.Errorf("%s=%s: %w", optml.EnvSubmitDirectory, o.fetch, err)
	}
	log.Info("code ready", "from", o.fetch, "dir", o.codeDir, "ms", time.Since(start).Milliseconds())
	o.handler = handlerModule(o.codeDir, o.imageModule, o.program)
	if o.handler == "" {
		return fmt.Errorf("%s=%s holds no inference.py and %s names no module: set %s or %s", optml.EnvSubmitDirectory, o.fetch, optml.EnvProgram, optml.EnvProgram, optml.EnvHandler)
	}
	return nil
}

func hasModule(dir, module string) bool {
	if strings.ContainsAny(module, `/\`) {
		return false
	}
	for _, p := range []string{module + ".py", filepath.Join(module, "__init__.py")} {
		if fi, err := os.Stat(filepath.Join(dir, p)); err == nil && !fi.IsDir() {
			return true
		}
	}
	return false
}

// toolkitEnv is the workers' environment in handler mode: env with the
// model's code directory first on PYTHONPATH, as the toolkit puts it, so
// that processes the handler starts import from it too, and named to the
// Python adapter (SAGEKIT_CODE_DIR), which puts it first on sys.path.
func toolkitEnv(env []string, codeDir string) []string {
	out := make([]string, 0, len(env)+2)
	out = append(out, optml.EnvCodeDir+"="+codeDir)
	pp := codeDir
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == optml.EnvCodeDir {
			continue
		}
		if k != "PYTHONPATH" {
			out = append(out, kv)
			continue
		}
		for _, d := range filepath.SplitList(v) {
			if d != "" && d != codeDir {
				pp += string(filepath.ListSeparator) + d
			}
		}
	}
	return append(out, "PYTHONPATH="+pp)
}

// installRequirements runs `python -m pip install -r requirements.txt` for
// the model's code directory when it has one, as the toolkit does before
// its model server starts. Debian's pip refuses to install into the
// system's Python without PIP_BREAK_SYSTEM_PACKAGES; a container is the
// place where that is what is wanted.
func installRequirements(ctx context.Context, log *slog.Logger, o serveOptions, timeout time.Duration) error {
	req := filepath.Join(o.codeDir, "requirements.txt")
	if _, err := os.Stat(req); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	log.Info("installing requirements", "file", req)
	cmd := exec.CommandContext(ctx, o.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", req)
	cmd.Dir = o.codeDir
	cmd.Env = append(o.env(), "PIP_BREAK_SYSTEM_PACKAGES=1", "PIP_ROOT_USER_ACTION=ignore")
	cmd.Stdout, cmd.Stderr = o.stderr, o.stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("installing %s: not done within %s (%s)", req, timeout, optml.EnvStartupTimeout)
		}
		return fmt.Errorf("installing %s: %s -m pip install -r: %w", req, o.python, err)
	}
	log.Info("installed requirements", "file", req, "ms", time.Since(start).Milliseconds())
	return nil
}

func (o serveOptions) env() []string {
	if o.handler != "" {
		return toolkitEnv(os.Environ(), o.codeDir)
	}
	return os.Environ()
}
