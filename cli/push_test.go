package cli

// The push command is run in process against loopback fakes: AWS itself
// cannot be reached from the machines the tests run on, so ecrtest serves
// ECR's AWS JSON 1.1 protocol and STS's query protocol, and the AWS SDK
// reaches it through AWS_ENDPOINT_URL, its standard endpoint override.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/internal/testenv"
)

// runPushCmd runs "sagekit push args..." in process and returns the exit
// code, stdout and stderr, as cli.Execute would produce them.
func runPushCmd(t *testing.T, deps pushDeps, args ...string) (int, string, string) {
	t.Helper()
	root := &cobra.Command{Use: "sagekit", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newPushCmdWith(deps))
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(append([]string{"push"}, args...))
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		code = reportError(root, err)
	}
	return code, stdout.String(), stderr.String()
}

// fakeAWSEnv points the AWS SDK at api, with static credentials and no
// shared configuration from the machine.
func fakeAWSEnv(t *testing.T, api *ecrtest.Server) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            api.URL,
		"AWS_ACCESS_KEY_ID":           ecrtest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       ecrtest.SecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  ecrtest.Region,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_MAX_ATTEMPTS":            "1",
		"DOCKER_CONFIG":               dir,
	} {
		t.Setenv(k, v)
	}
}

func secretForms(secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		out = append(out, s, base64.StdEncoding.EncodeToString([]byte(s)),
			base64.RawStdEncoding.EncodeToString([]byte(s)), base64.URLEncoding.EncodeToString([]byte(s)))
	}
	return out
}

func assertNoSecrets(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secretForms(secrets...) {
		if strings.Contains(text, s) {
			t.Errorf("a secret (%d bytes) reached the output:\n%s", len(s), text)
		}
	}
}

// TestPushECRShortForm: --ecr fills account (STS) and region (AWS config),
// creates the repository, pushes, and prints the digest URI last. No form
// of the token, the password or the AWS secret key is printed, with
// --debug logging on, in success and in failure.
func TestPushECRShortForm(t *testing.T) {
	api := ecrtest.New(t)
	reg := ecrtest.NewRegistry(t, ecrtest.Username, ecrtest.Password)
	fakeAWSEnv(t, api)
	deps := pushDeps{transport: reg.Transport(ecrtest.ECRHost, nil)}
	dir, digest := testenv.ImageLayout(t)

	code, stdout, stderr := runPushCmd(t, deps, dir, "--ecr", "team/model:v1", "--progress", "plain", "--debug", "--scan-on-push")
	if code != 0 {
		t.Fatalf("push exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	want := ecrtest.ECRHost + "/team/model@" + digest.String()
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, want) {
		t.Errorf("last line = %q, want it to end with %q", last, want)
	}
	if !strings.Contains(stdout, ecrtest.ECRHost+"/team/model:v1") || !strings.Contains(stderr, "created ECR repository") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if r, ok := api.Repository("team/model"); !ok || !r.ScanOnPush {
		t.Errorf("repository = %+v (present %v), want one scanning on push", r, ok)
	}
	ref, _ := name.ParseReference(ecrtest.ECRHost + "/team/model:v1")
	desc, err := remote.Get(ref, remote.WithTransport(reg.Transport(ecrtest.ECRHost, nil)),
		remote.WithAuth(&authn.Basic{Username: ecrtest.Username, Password: ecrtest.Password}))
	if err != nil || desc.Digest != digest {
		t.Errorf("read back %v (err %v), want %s", desc, err, digest)
	}
	all := stdout + stderr

	// Pushing again skips every blob.
	code, stdout, stderr = runPushCmd(t, deps, dir, "--ecr", "team/model:v2", "--progress", "plain")
	if code != 0 || !strings.Contains(stdout, "0 blobs uploaded, 3 already present") {
		t.Errorf("second push exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	all += stdout + stderr

	// A registry that quotes the credentials back in its error.
	reg.Before(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": "bad Authorization: " + r.Header.Get("Authorization")}}})
			return true
		}
		return false
	})
	code, stdout, stderr = runPushCmd(t, deps, dir, "--ecr", "team/model:v3", "--progress", "rawjson", "--debug")
	if code != 1 || !strings.Contains(stderr, "ecr:PutImage") || !strings.Contains(stderr, "[redacted]") {
		t.Errorf("refused push exited %d, stderr:\n%s", code, stderr)
	}
	all += stdout + stderr
	assertNoSecrets(t, all, ecrtest.Password, ecrtest.Token, ecrtest.SecretAccessKey, ecrtest.Username+":"+ecrtest.Password)
}

func TestPushECRAccessDenied(t *testing.T) {
	api := ecrtest.New(t)
	reg := ecrtest.NewRegistry(t, ecrtest.Username, ecrtest.Password)
	fakeAWSEnv(t, api)
	api.Fail("GetCallerIdentity", "AccessDenied", "User is not authorized to perform sts:GetCallerIdentity")
	dir, _ := testenv.ImageLayout(t)
	code, _, stderr := runPushCmd(t, pushDeps{transport: reg.Transport(ecrtest.ECRHost, nil)}, dir, "--ecr", "model:v1")
	if code != 1 || !strings.Contains(stderr, "not authorized to perform sts:GetCallerIdentity") || !strings.Contains(stderr, "--profile") {
		t.Errorf("push exited %d, stderr:\n%s\nwant the AWS message and what to do", code, stderr)
	}
	if reg.Uploads() != 0 {
		t.Errorf("registry saw %d uploads, want 0", reg.Uploads())
	}
}

// TestPushDockerConfigCredentials: a registry other than ECR gets the
// credentials of the Docker configuration, and they are never printed.
func TestPushDockerConfigCredentials(t *testing.T) {
	const user, password = "robot", "docker-config-password-3b9d"
	reg := ecrtest.NewRegistry(t, user, password)
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := `{"auths":{"` + reg.Host + `":{"auth":"` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)
	dir, digest := testenv.ImageLayout(t)

	code, stdout, stderr := runPushCmd(t, pushDeps{}, "oci:"+dir, reg.Host+"/model:v1", "--progress", "quiet", "--debug")
	if code != 0 || strings.TrimSpace(stdout) != reg.Host+"/model@"+digest.String() {
		t.Fatalf("push exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	all := stdout + stderr

	// Wrong credentials: the error says to log in, and shows none.
	bad := base64.StdEncoding.EncodeToString([]byte(user + ":wrong-password-77c1"))
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+bad+`"}}}`), 0o600)
	code, stdout, stderr = runPushCmd(t, pushDeps{}, dir, reg.Host+"/model:v2", "--progress", "plain")
	if code != 1 || !strings.Contains(stderr, "docker login "+reg.Host) {
		t.Errorf("push with a wrong password exited %d, stderr:\n%s", code, stderr)
	}
	all += stdout + stderr
	assertNoSecrets(t, all, password, user+":"+password, "wrong-password-77c1", user+":wrong-password-77c1")
}

func TestPushFlagErrors(t *testing.T) {
	dir, _ := testenv.ImageLayout(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{dir}, "no destination"},
		{"both", []string{dir, "example.com/a:b", "--ecr", "a:b"}, "not both"},
		{"ecr flag elsewhere", []string{dir, "example.com/a:b", "--immutable-tags"}, "ECR destinations only"},
		{"region mismatch", []string{dir, ecrtest.ECRHost + "/a:b", "--region", "eu-west-1"}, "does not match"},
		{"bad progress", []string{dir, "example.com/a:b", "--progress", "fancy"}, "--progress fancy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runPushCmd(t, pushDeps{}, tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("push %v exited %d, stderr %q; want an error with %q", tt.args, code, stderr, tt.want)
			}
		})
	}
}

// TestPushBuilt: the function 'sagekit build --push' uses pushes an image
// and returns its digest URI.
func TestPushBuilt(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ecrtest.NewRegistry(t, "", "")
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	f, err := pushBuilt(context.Background(), &stdout, &stderr, reg.Host+"/built:v1", pushFlags{registryFlags: registryFlags{jobs: 2}, progress: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	uri, err := f(context.Background(), img, nil)
	if err != nil {
		t.Fatalf("push error = %v\n%s", err, stderr.String())
	}
	d, _ := img.Digest()
	if want := reg.Host + "/built@" + d.String(); uri != want || !strings.Contains(stdout.String(), want) {
		t.Errorf("uri = %q, stdout %q; want %q", uri, stdout.String(), want)
	}
}

// TestPushArchiveLimitsFromEnv: the SAGEKIT_MAX_EXTRACT_* variable that a
// refused archive names bounds push's OCI archives too, and a malformed
// one is named.
func TestPushArchiveLimitsFromEnv(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"oci-layout", `{"imageLayoutVersion":"1.0.0"}`}, {"index.json", `{"schemaVersion":2,"manifests":[]}`}, {"blobs/", ""}} {
		typ := byte(tar.TypeReg)
		if strings.HasSuffix(f.name, "/") {
			typ = tar.TypeDir
		}
		tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: typ, Mode: 0o644, Size: int64(len(f.body))})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	archive := filepath.Join(t.TempDir(), "oci.tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ entries, want string }{
		{"2", "holds more than 2 entries (raise the limit with SAGEKIT_MAX_EXTRACT_ENTRIES; 0 removes it)"},
		{"many", `SAGEKIT_MAX_EXTRACT_ENTRIES="many": want a non-negative integer`},
	} {
		t.Setenv("SAGEKIT_MAX_EXTRACT_ENTRIES", tt.entries)
		code, _, stderr := execCLI(t, "push", archive, "127.0.0.1:1/team/model:v1", "--progress", "plain")
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("SAGEKIT_MAX_EXTRACT_ENTRIES=%s sagekit push: exit %d, stderr %q; want 1 and %q", tt.entries, code, stderr, tt.want)
		}
	}
}
