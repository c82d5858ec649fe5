package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// boto3Prelude is the start of every program Boto3 runs; _c is the
// runner's, a client per service made once and kept.
const boto3Prelude = `import boto3, json, sys
sm, runtime, logs, s3 = _c("sagemaker"), _c("sagemaker-runtime"), _c("logs"), _c("s3")
def emit(v): print(json.dumps(v, default=str))
`

// boto3Runner is the Python program behind Boto3: it imports boto3 once,
// then reads programs as JSON lines on stdin and runs each with what it
// printed captured, answering a JSON line on file descriptor 3. Importing
// boto3 and loading a client's service model costs seconds in a fresh
// interpreter; here each costs that once per test binary.
const boto3Runner = `import boto3, contextlib, io, json, linecache, os, sys, traceback
url, region = sys.argv[1], sys.argv[2]
clients = {}
def _c(name):
    if name not in clients:
        clients[name] = boto3.client(name, endpoint_url=url, region_name=region,
            aws_access_key_id="testing", aws_secret_access_key="testing")
    return clients[name]
replies = os.fdopen(3, "w")
for line in sys.stdin:
    req = json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    ok = True
    sys.argv = ["-c"] + req["args"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            linecache.cache["<program>"] = (len(req["program"]), None, req["program"].splitlines(True), "<program>")
            exec(compile(req["program"], "<program>", "exec"), {"__name__": "__main__", "_c": _c})
        except SystemExit as e:
            if e.code not in (None, 0):
                ok = False
                traceback.print_exc()
        except BaseException:
            ok = False
            traceback.print_exc()
    replies.write(json.dumps({"ok": ok, "stdout": out.getvalue(), "stderr": err.getvalue()}) + "\n")
    replies.flush()
`

type pythonRunner struct {
	proc    *ownedProcess
	in      io.WriteCloser
	out     *os.File // the read end of the replies' pipe
	replies *bufio.Reader
	logs    SyncBuffer
}

// Boto3 runs a Python program with boto3 clients at hand (sm, runtime,
// logs, s3, all pointed at moto; _c("ecr") makes another) and returns what
// it printed as JSON, decoded into out when out is not nil. The program
// gets args as sys.argv[1:]. Programs run one at a time in one Python
// process per test binary, each in a namespace of its own.
func (m *Moto) Boto3(t testing.TB, program string, out any, args ...string) {
	t.Helper()
	stdout, err := m.srv.runBoto3(boto3Prelude+program, args)
	if err != nil {
		t.Fatalf("boto3 program: %v\n%s", err, program)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("boto3 program printed %q: %v", stdout, err)
		}
	}
}

// runBoto3 runs program in the server's boto3 runner, starting the runner
// the first time, and returns what the program printed.
func (s *motoServer) runBoto3(program string, args []string) (string, error) {
	s.pyMu.Lock()
	defer s.pyMu.Unlock()
	if s.py == nil {
		py, err := startBoto3Runner(s.url, filepath.Join(s.dir, "no-config"))
		if err != nil {
			return "", err
		}
		s.py = py
	}
	if args == nil {
		args = []string{}
	}
	req, err := json.Marshal(map[string]any{"program": program, "args": args})
	if err != nil {
		return "", err
	}
	var reply struct {
		OK             bool
		Stdout, Stderr string
	}
	line, err := func() ([]byte, error) {
		if _, err := s.py.in.Write(append(req, '\n')); err != nil {
			return nil, err
		}
		return s.py.replies.ReadBytes('\n')
	}()
	if err == nil {
		err = json.Unmarshal(line, &reply)
	}
	if err != nil {
		// The runner is gone or garbled: the next program gets a new one.
		s.py.stop()
		err = fmt.Errorf("the boto3 runner failed: %v\n%s", err, tail(s.py.logs.String(), 8000))
		s.py = nil
		return "", err
	}
	if !reply.OK {
		return "", fmt.Errorf("it failed:\n%s%s", reply.Stdout, reply.Stderr)
	}
	return reply.Stdout, nil
}

// startBoto3Runner starts the runner for moto at url. Its environment is
// this process's without AWS settings, which belong to a test: the
// clients take moto's address, region and keys from the runner.
func startBoto3Runner(url, noConfig string) (*pythonRunner, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	cmd := exec.Command("python3", "-c", boto3Runner, url, MotoRegion)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE="+noConfig, "AWS_SHARED_CREDENTIALS_FILE="+noConfig, "AWS_EC2_METADATA_DISABLED=true")
	cmd.ExtraFiles = []*os.File{w}
	p := &pythonRunner{out: r, replies: bufio.NewReader(r)}
	cmd.Stdout, cmd.Stderr = &p.logs, &p.logs
	if p.in, err = cmd.StdinPipe(); err != nil {
		r.Close()
		return nil, err
	}
	if p.proc, err = startOwned(cmd); err != nil {
		r.Close()
		return nil, fmt.Errorf("starting python3 for boto3: %w", err)
	}
	return p, nil
}

func (p *pythonRunner) stop() {
	p.in.Close()
	p.proc.kill()
	p.out.Close()
}
