package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sagekit/sagekit/bench/fixture"
	"github.com/sagekit/sagekit/bench/proc"
	"github.com/sagekit/sagekit/sdk/optml"
)

type kind int

const (
	kindBare kind = iota
	kindGo
	kindRef
	kindWorker
)

// stack is one row of the benchmark.
type stack struct {
	key   string
	name  string
	kind  kind
	pred  string // "noop" or "tree"
	class string // gunicorn worker class of the reference
}

var stacks = []stack{
	{key: "bare", name: "bare net/http, no-op", kind: kindBare, pred: "noop"},
	{key: "go-noop", name: "sagekit, Go handler, no-op", kind: kindGo, pred: "noop"},
	{key: "go-tree", name: "sagekit, Go handler, tree", kind: kindGo, pred: "tree"},
	{key: "ref-sync-noop", name: "nginx+gunicorn sync+Flask, no-op (P0)", kind: kindRef, pred: "noop", class: "sync"},
	{key: "ref-gevent-noop", name: "nginx+gunicorn gevent+Flask, no-op (P0)", kind: kindRef, pred: "noop", class: "gevent"},
	{key: "worker-noop", name: "sagekit worker mode, no-op predictor.py (P2)", kind: kindWorker, pred: "noop"},
	{key: "ref-sync-tree", name: "nginx+gunicorn sync+Flask, sklearn tree (P1)", kind: kindRef, pred: "tree", class: "sync"},
	{key: "ref-gevent-tree", name: "nginx+gunicorn gevent+Flask, sklearn tree (P1)", kind: kindRef, pred: "tree", class: "gevent"},
	{key: "worker-tree", name: "sagekit worker mode, tree predictor.py (P2)", kind: kindWorker, pred: "tree"},
}

func (s stack) sagekit() bool { return s.kind == kindGo || s.kind == kindWorker }

// env is what every stack runs with: a small fixed environment, the
// unbuffered Python output AWS's example Dockerfile sets, and the model
// under SAGEMAKER_BASE_DIR.
type env struct {
	l          *fixture.Layout
	runtimeBin string
	serverBin  string
	workers    int
	haveWrk    bool // else closed loops use the Go generator
}

func (e *env) base() []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + e.l.Dir,
		"LANG=C.UTF-8",
		"PYTHONUNBUFFERED=TRUE",
		"PYTHONDONTWRITEBYTECODE=TRUE",
		optml.EnvBaseDir + "=" + e.l.BaseDir,
	}
	// SAGEKIT_HTTP_SERVER=net/http runs sagekit's stacks on Go's server
	// alone, to compare the two on one build.
	if v := os.Getenv(optml.EnvHTTPServer); v != "" {
		env = append(env, optml.EnvHTTPServer+"="+v)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start starts s and returns its process group and address.
func (e *env) start(s stack, rep int) (*proc.Group, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := filepath.Join(e.l.Dir, fmt.Sprintf("%s-%d", s.key, rep))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, "", err
	}
	log := filepath.Join(dir, "output.log")
	predDir := e.l.NoopDir
	if s.pred == "tree" {
		predDir = e.l.TreeDir
	}
	workers := strconv.Itoa(e.workers)
	var g *proc.Group
	switch s.kind {
	case kindBare, kindGo:
		mode := s.pred
		if s.kind == kindBare {
			mode = "bare"
		}
		g, err = proc.StartGroup(proc.Spec{Path: e.serverBin, Args: []string{"-mode", mode, "-addr", addr},
			Env: e.base(), Dir: dir, Log: log})
	case kindRef:
		sock := filepath.Join(dir, "gunicorn.sock")
		conf, cerr := e.l.NginxConf(fmt.Sprintf("%s-%d", s.key, rep), port, sock)
		if cerr != nil {
			return nil, "", cerr
		}
		// As the example's serve script: nginx first, then gunicorn.
		g, err = proc.StartGroup(
			proc.Spec{Path: nginx, Args: []string{"-c", conf}, Env: e.base(), Dir: predDir, Log: log},
			proc.Spec{Path: gunicorn, Args: []string{"--timeout", "60", "-k", s.class, "-b", "unix:" + sock, "-w", workers, "wsgi:app"},
				Env: e.base(), Dir: predDir, Log: log},
		)
	case kindWorker:
		g, err = proc.StartGroup(proc.Spec{Path: e.runtimeBin, Args: []string{"serve"},
			Env: append(e.base(),
				optml.EnvWSGIApp+"=predictor:app",
				optml.EnvPython+"="+python,
				optml.EnvModelServerWorkers+"="+workers,
				optml.EnvModelServerTimeout+"=60",
				optml.EnvBindToPort+"="+strconv.Itoa(port),
			),
			Dir: predDir, Log: log})
	}
	return g, addr, err
}
