package leaktest

// TestNoSecretInAnyOutput plants known secrets (an AWS secret key and
// session token, a container authorization token, an IMDS token, a
// registry password) and runs both binaries through every failure path
// that sends them: push to a registry, ECR authentication, the S3 download
// of a submit directory with each credential source, in training and in
// serving. Every server echoes the request back, in its error body and
// again past Content-Length, which makes net/http log "Unsolicited response
// received on idle HTTP channel" quoting it. Then every byte of stdout,
// stderr, failure files and logs is searched for the secrets.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/optml"
)

const (
	leakAccessKeyID  = "AKIALEAKTESTLEAKTEST"
	leakSecretKey    = "leaktest/SecretKey+wJalrXUtnFEMI0123456789"
	leakSessionToken = "leaktest-session-token-IQoJb3JpZ2luX2VjEKf"
	leakContainerTok = "leaktest-container-authz-token-8c1f2e"
	leakIMDSToken    = "leaktest-imds-token-AQAEAJ5xR0l9z"
	leakRegistryUser = "leakuser"
	leakRegistryPass = "leaktest-registry-password-4d2e9b"
	leakECRAccount   = "123456789012"
)

// echoServer answers every request with what reply decides, its body and
// then, past Content-Length, the request itself: the bytes net/http quotes
// in its "Unsolicited response" log line.
type echoServer struct {
	*httptest.Server
	reply func(r *http.Request, dump string) (status int, header http.Header, body string)

	mu    sync.Mutex
	seen  strings.Builder // every request, to prove the secrets were sent
	conns []net.Conn
}

func newEchoServer(t *testing.T, reply func(r *http.Request, dump string) (int, http.Header, string)) *echoServer {
	e := &echoServer{reply: reply}
	e.Server = httptest.NewServer(e)
	t.Cleanup(func() {
		e.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
	})
	return e
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := httputil.DumpRequest(r, true)
	dump := string(raw)
	status, header, body := e.reply(r, dump)
	conn, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	e.mu.Lock()
	e.seen.WriteString(dump)
	e.conns = append(e.conns, conn)
	e.mu.Unlock()
	fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(rw, "%s: %s\r\n", k, v)
		}
	}
	if r.Method == http.MethodHead {
		fmt.Fprintf(rw, "Content-Length: 0\r\n\r\n%s", dump)
	} else {
		fmt.Fprintf(rw, "Content-Length: %d\r\n\r\n%s%s", len(body), body, dump)
	}
	rw.Flush()
}

func (e *echoServer) saw(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Contains(e.seen.String(), s)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// secretForms are the ways a secret may be printed.
func secretForms() map[string]string {
	forms := map[string]string{}
	add := func(label, s string) {
		forms[label] = s
		forms[label+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(s))
		forms[label+" (raw base64)"] = base64.RawStdEncoding.EncodeToString([]byte(s))
		forms[label+" (url base64)"] = base64.RawURLEncoding.EncodeToString([]byte(s))
		forms[label+" (query escaped)"] = url.QueryEscape(s)
	}
	add("AWS secret key", leakSecretKey)
	add("AWS session token", leakSessionToken)
	add("container authorization token", leakContainerTok)
	add("IMDS token", leakIMDSToken)
	add("registry password", leakRegistryPass)
	add("registry credentials", leakRegistryUser+":"+leakRegistryPass)
	return forms
}

// baseEnv is a clean environment: nothing of the machine's AWS or Docker
// configuration.
func baseEnv(t *testing.T) []string {
	dir := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + os.TempDir(),
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1", "DOCKER_CONFIG=" + dir,
	}
}

type run struct {
	name   string
	bin    string
	args   []string
	env    []string
	files  string // a directory whose files are searched too
	server *echoServer
	sent   string // what the server must have received, or the test proves nothing
}

func TestNoSecretInAnyOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries (short mode)")
	}
	sagekit := testenv.Binary(t, "./cli/cmd/sagekit", runtime.GOARCH)
	rt := testenv.Runtime(t)

	s3XML := func(r *http.Request, dump string) (int, http.Header, string) {
		return http.StatusForbidden, http.Header{"Content-Type": {"application/xml"}},
			"<Error><Code>AccessDenied</Code><Message>you sent " + dump + "</Message></Error>"
	}
	s3 := newEchoServer(t, s3XML)
	creds := newEchoServer(t, func(r *http.Request, dump string) (int, http.Header, string) {
		return http.StatusForbidden, http.Header{"Content-Type": {"text/plain"}}, "denied: " + dump
	})
	imds := newEchoServer(t, func(r *http.Request, dump string) (int, http.Header, string) {
		if r.Method == http.MethodPut {
			return http.StatusOK, http.Header{"Content-Type": {"text/plain"}}, leakIMDSToken
		}
		return http.StatusForbidden, http.Header{"Content-Type": {"text/plain"}}, "denied: " + dump
	})
	registry := newEchoServer(t, func(r *http.Request, dump string) (int, http.Header, string) {
		if r.Header.Get("Authorization") == "" {
			return http.StatusUnauthorized, http.Header{"Www-Authenticate": {`Basic realm="echo"`}, "Content-Type": {"application/json"}},
				`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`
		}
		return http.StatusForbidden, http.Header{"Content-Type": {"application/json"}},
			`{"errors":[{"code":"DENIED","message":` + jsonString("you sent "+dump) + `}]}`
	})
	ecrAPI := newEchoServer(t, func(r *http.Request, dump string) (int, http.Header, string) {
		h := http.Header{"Content-Type": {"application/x-amz-json-1.1"}}
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".DescribeRepositories") {
			return http.StatusOK, h, `{"repositories":[{"repositoryName":"team/model","registryId":"` + leakECRAccount + `","repositoryUri":"` + leakECRAccount + `.dkr.ecr.us-east-1.amazonaws.com/team/model","imageTagMutability":"MUTABLE"}]}`
		}
		return http.StatusBadRequest, h, `{"__type":"AccessDeniedException","message":` + jsonString("you sent "+dump) + `}`
	})

	staticCreds := []string{"AWS_ACCESS_KEY_ID=" + leakAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + leakSecretKey, "AWS_SESSION_TOKEN=" + leakSessionToken}
	containerCreds := []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + creds.URL + "/v2/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + leakContainerTok}
	imdsCreds := []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL}
	const sourcedir = "s3://bucket/job/source/sourcedir.tar.gz"

	// Training: sagemaker_submit_directory on S3, fetched before the
	// program runs; the failure lands in the failure file.
	trainRun := func(name string, credEnv []string, server *echoServer, sent string) run {
		p := optml.At(t.TempDir())
		if err := p.Write(optml.Layout{Hyperparameters: optml.Hyperparameters{
			"sagemaker_submit_directory": jsonString(sourcedir), "sagemaker_program": `"train.py"`,
		}}); err != nil {
			t.Fatal(err)
		}
		env := append(baseEnv(t), credEnv...)
		env = append(env, optml.EnvBaseDir+"="+p.Root(), "SAGEKIT_TOOLKIT=training", "AWS_ENDPOINT_URL_S3="+s3.URL)
		return run{name: name, bin: rt, args: []string{"train"}, env: env, files: p.Root(), server: server, sent: sent}
	}
	// Serving: SAGEMAKER_SUBMIT_DIRECTORY on S3, fetched at start.
	serveRun := func(name string, credEnv []string, server *echoServer, sent string) run {
		base := t.TempDir()
		env := append(baseEnv(t), credEnv...)
		env = append(env, optml.EnvBaseDir+"="+base, "SAGEMAKER_SUBMIT_DIRECTORY="+sourcedir, "AWS_ENDPOINT_URL_S3="+s3.URL,
			"SAGEMAKER_BIND_TO_PORT="+freePort(t))
		return run{name: name, bin: rt, args: []string{"serve"}, env: env, files: base, server: server, sent: sent}
	}

	// Push: a registry that takes Basic credentials, and ECR.
	dir, _ := testenv.ImageLayout(t)
	src := "oci:" + dir
	regHost := strings.TrimPrefix(registry.URL, "http://")
	dockerCfg := t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, regHost, base64.StdEncoding.EncodeToString([]byte(leakRegistryUser+":"+leakRegistryPass)))
	if err := os.WriteFile(filepath.Join(dockerCfg, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pushEnv := append(baseEnv(t), "DOCKER_CONFIG="+dockerCfg)
	ecrEnv := append(append(baseEnv(t), staticCreds...), "AWS_ENDPOINT_URL="+ecrAPI.URL, "AWS_EC2_METADATA_DISABLED=true")

	runs := []run{
		trainRun("train, S3 with static credentials", staticCreds, s3, leakSessionToken),
		trainRun("train, container credentials", containerCreds, creds, leakContainerTok),
		trainRun("train, instance credentials", imdsCreds, imds, leakIMDSToken),
		serveRun("serve, S3 with static credentials", staticCreds, s3, leakSessionToken),
		serveRun("serve, container credentials", containerCreds, creds, leakContainerTok),
		{name: "push to a registry", bin: sagekit, args: []string{"push", src, regHost + "/team/model:v1", "--debug", "--progress", "plain"}, env: pushEnv, server: registry,
			sent: base64.StdEncoding.EncodeToString([]byte(leakRegistryUser + ":" + leakRegistryPass))},
		{name: "push to ECR", bin: sagekit, args: []string{"push", src, leakECRAccount + ".dkr.ecr.us-east-1.amazonaws.com/team/model:v1", "--debug", "--progress", "plain"}, env: ecrEnv, server: ecrAPI, sent: leakSessionToken},
	}

	forms := secretForms()
	unsolicited := 0
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, r.bin, r.args...)
			cmd.Env = r.env
			var stdout, stderr testenv.SyncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if err == nil {
				t.Errorf("%s succeeded; want it to fail against the echoing server", r.name)
			}
			if !r.server.saw(r.sent) {
				t.Fatalf("the server never received the planted secret: the run proves nothing\nstderr:\n%s", stderr.String())
			}
			texts := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
			if r.files != "" {
				filepath.WalkDir(r.files, func(p string, d os.DirEntry, err error) error {
					if err == nil && d.Type().IsRegular() {
						b, _ := os.ReadFile(p)
						texts[p] = string(b)
					}
					return nil
				})
			}
			for where, text := range texts {
				unsolicited += strings.Count(text, "Unsolicited response")
				for label, form := range forms {
					if strings.Contains(text, form) {
						t.Errorf("the %s reached %s:\n%s", label, where, text)
					}
				}
			}
			t.Logf("exit: %v; stderr:\n%s", err, lastLines(stderr.String(), 6))
		})
	}
	if unsolicited == 0 {
		t.Error(`no run logged net/http's "Unsolicited response" line: the past-Content-Length echo was not exercised`)
	}
	t.Logf("%d unsolicited-response lines captured, none with a secret", unsolicited)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
