package testenv

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Moto is moto's server (the Python package moto, unmodified) on a
// loopback port: SageMaker, its runtime, CloudWatch Logs, S3, STS and ECR
// in one process, recording every request it gets.
type Moto struct {
	URL  string
	file string
	srv  *motoServer
}

// MotoRegion is the region the tests use.
const MotoRegion = "us-east-1"

// motoServer is the one moto_server of a test binary. Starting one costs
// seconds of Python imports, so every test shares it and starts from a
// reset: the first NewMoto starts it, MotoMain stops it.
type motoServer struct {
	url, dir, file string
	proc           *ownedProcess
	logs           SyncBuffer

	pyMu sync.Mutex
	py   *pythonRunner // runs Boto3 programs; nil after it failed, until the next
}

var moto struct {
	mu   sync.Mutex
	main bool // MotoMain runs the tests
	srv  *motoServer
}

// MotoMain runs a package's tests and then stops the moto_server they
// shared. A package whose tests call NewMoto calls it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.MotoMain(m) }
func MotoMain(m *testing.M) {
	moto.mu.Lock()
	moto.main = true
	moto.mu.Unlock()
	code := m.Run()
	moto.mu.Lock()
	if moto.srv != nil {
		moto.srv.stop()
		moto.srv = nil
	}
	moto.mu.Unlock()
	os.Exit(code)
}

// NewMoto returns the test binary's moto_server, reset to an empty state
// with an empty recording, and points the AWS SDKs' credential chain at
// fake keys until t ends. A missing moto_server fails the test: it is part
// of what the tests need.
//
// Tests that call NewMoto set environment variables, so they never run in
// parallel: each has the server to itself from its NewMoto to its end.
func NewMoto(t testing.TB) *Moto {
	t.Helper()
	moto.mu.Lock()
	defer moto.mu.Unlock()
	if !moto.main {
		t.Fatal("NewMoto shares one moto_server per test binary: call testenv.MotoMain from the package's TestMain")
	}
	if moto.srv != nil && moto.srv.proc.done() {
		t.Logf("moto_server exited; starting another. Its log:\n%s", tail(moto.srv.logs.String(), 8000))
		moto.srv.stop()
		moto.srv = nil
	}
	if moto.srv == nil {
		srv, err := startMoto()
		if err != nil {
			t.Fatal(err)
		}
		moto.srv = srv
	}
	srv := moto.srv
	m := &Moto{URL: srv.url, file: srv.file, srv: srv}
	// Every backend emptied (buckets, jobs, repositories, queued
	// results), and the recording started afresh.
	m.post(t, "/moto-api/reset", nil)
	m.post(t, "/moto-api/recorder/reset-recording", nil)
	m.post(t, "/moto-api/recorder/start-recording", nil)
	logStart := len(srv.logs.String())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto_server's log during the test:\n%s", tail(srv.logs.String()[logStart:], 8000))
		}
	})
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": MotoRegion, "AWS_DEFAULT_REGION": MotoRegion,
		"AWS_CONFIG_FILE": filepath.Join(srv.dir, "no-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(srv.dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	// Empty is not unset for botocore (AWS_PROFILE="" names a profile).
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		unsetenv(t, k)
	}
	return m
}

// startMoto starts moto_server on a free loopback port and waits until it
// answers.
func startMoto() (*motoServer, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errors.New("moto_server is not on PATH: install it with pip install 'moto[server]' (moto 5), for the Python on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "sagekit-moto-")
	if err != nil {
		return nil, err
	}
	s := &motoServer{url: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir, file: filepath.Join(dir, "recording")}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MOTO_RECORDER_FILEPATH="+s.file)
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	if s.proc, err = startOwned(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting moto_server: %w", err)
	}
	// The boto3 runner imports boto3 while moto imports itself.
	if s.py, err = startBoto3Runner(s.url, filepath.Join(dir, "no-config")); err != nil {
		s.stop()
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if s.proc.done() {
			s.stop()
			return nil, fmt.Errorf("moto_server exited: %s", s.logs.String())
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("moto_server did not answer within 60s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server and its boto3 runner and removes their files.
func (s *motoServer) stop() {
	s.pyMu.Lock()
	if s.py != nil {
		s.py.stop()
		s.py = nil
	}
	s.pyMu.Unlock()
	s.proc.kill()
	os.RemoveAll(s.dir)
}

// unsetenv removes k from the environment until t ends.
func unsetenv(t testing.TB, k string) {
	t.Setenv(k, "") // restores the old value at the end, and forbids t.Parallel
	os.Unsetenv(k)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (m *Moto) post(t testing.TB, path string, body any) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Post(m.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// QueueInvokeResult makes the next InvokeEndpoint of a new request answer
// with these values (moto's own API for it).
func (m *Moto) QueueInvokeResult(t testing.TB, body, contentType, variant string) {
	m.post(t, "/moto-api/static/sagemaker/endpoint-results", map[string]any{
		"region":  MotoRegion,
		"results": []map[string]string{{"Body": body, "ContentType": contentType, "InvokedProductionVariant": variant, "CustomAttributes": ""}},
	})
}

// Request is one request moto recorded.
type Request struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    []byte
}

// Target is the operation of a JSON-protocol request ("SageMaker.CreateTrainingJob").
func (r Request) Target() string { return r.Headers["X-Amz-Target"] }

// Requests returns every request moto recorded so far.
func (m *Moto) Requests(t testing.TB) []Request {
	t.Helper()
	f, err := os.Open(m.file)
	if err != nil {
		t.Fatalf("reading moto's recording: %v", err)
	}
	defer f.Close()
	var out []Request
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var raw struct {
			Headers     map[string]string `json:"headers"`
			Method      string            `json:"method"`
			URL         string            `json:"url"`
			Body        string            `json:"body"`
			BodyEncoded bool              `json:"body_encoded"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("reading moto's recording: %v", err)
		}
		r := Request{Method: raw.Method, URL: raw.URL, Headers: raw.Headers, Body: []byte(raw.Body)}
		if raw.BodyEncoded {
			if r.Body, err = base64.StdEncoding.DecodeString(raw.Body); err != nil {
				t.Fatalf("reading moto's recording: %v", err)
			}
		}
		if strings.HasPrefix(r.URL, m.URL+"/moto-api") {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Request returns the JSON body of the one recorded request for the
// operation target (for example "SageMaker.CreateEndpointConfig").
func (m *Moto) Request(t testing.TB, target string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range m.Requests(t) {
		if r.Target() == target {
			var v map[string]any
			if err := json.Unmarshal(r.Body, &v); err != nil {
				t.Fatalf("%s: %v", target, err)
			}
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("moto recorded %d %s requests, want 1", len(found), target)
	}
	return found[0]
}

// String names the server, for logs.
func (m *Moto) String() string { return fmt.Sprintf("moto_server at %s", m.URL) }
