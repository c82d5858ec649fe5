package testenv

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Moto is moto's server (the Python package moto, unmodified) on a
// loopback port: SageMaker, its runtime, CloudWatch Logs, S3, STS and ECR
// in one process, recording every request it gets.
type Moto struct {
	URL  string
	file string
}

// MotoRegion is the region the tests use.
const MotoRegion = "us-east-1"

// NewMoto starts moto_server for t and points the AWS SDKs' credential
// chain at fake keys. A missing moto_server fails the test: it is part of
// what the tests need.
func NewMoto(t testing.TB) *Moto {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server is not on PATH: install it with pip install 'moto[server]' (moto 5), for the Python on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), file: filepath.Join(dir, "recording")}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MOTO_RECORDER_FILEPATH="+m.file)
	var logs SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto_server: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("moto_server's log:\n%s", tail(logs.String(), 8000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("moto_server exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.post(t, "/moto-api/recorder/start-recording", nil)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": MotoRegion, "AWS_DEFAULT_REGION": MotoRegion,
		"AWS_CONFIG_FILE": filepath.Join(dir, "no-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-credentials"),
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

// Boto3 runs a Python program with boto3 clients at hand (sm, runtime,
// logs, s3, all pointed at moto) and returns what it printed as JSON,
// decoded into out when out is not nil. The program gets args as
// sys.argv[1:].
func (m *Moto) Boto3(t testing.TB, program string, out any, args ...string) {
	t.Helper()
	prelude := `import boto3, json, sys
def _c(n): return boto3.client(n, endpoint_url=` + strconv.Quote(m.URL) + `, region_name=` + strconv.Quote(MotoRegion) + `, aws_access_key_id="testing", aws_secret_access_key="testing")
sm, runtime, logs, s3 = _c("sagemaker"), _c("sagemaker-runtime"), _c("logs"), _c("s3")
def emit(v): print(json.dumps(v, default=str))
`
	cmd := exec.Command("python3", append([]string{"-c", prelude + program}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("boto3 program: %v\n%s\n%s", err, stderr.String(), program)
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("boto3 program printed %q: %v", stdout.String(), err)
		}
	}
}

// String names the server, for logs.
func (m *Moto) String() string { return fmt.Sprintf("moto_server at %s", m.URL) }
