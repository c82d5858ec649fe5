package s3get

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// fakeS3 speaks S3's GetObject over path-style URLs, as an S3-compatible
// endpoint does, and checks every request's SigV4 signature with the AWS
// SDK's own signer.
type fakeS3 struct {
	t       *testing.T
	creds   Credentials
	region  string            // the buckets' region; other regions get a redirect
	objects map[string][]byte // "bucket/key"
	fail    int               // answer this many requests with 500 first

	mu       sync.Mutex
	requests int
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.mu.Unlock()
	auth := r.Header.Get("Authorization")
	region, err := f.verify(r)
	if err != nil {
		f.t.Errorf("request %d (%s): %v", n, auth, err)
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	if region != f.region {
		w.Header().Set("X-Amz-Bucket-Region", f.region)
		s3Error(w, http.StatusMovedPermanently, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.")
		return
	}
	if n <= f.fail {
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	obj, ok := f.objects[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Write(obj)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, code, msg)
}

// verify re-signs the request's signed headers with the AWS SDK's signer
// and the known secret, and returns the region the request was signed for.
func (f *fakeS3) verify(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	var cred, signed string
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] != f.creds.AccessKeyID || scope[3] != "s3" || scope[4] != "aws4_request" {
		return "", fmt.Errorf("credential scope %q", cred)
	}
	want := "host;x-amz-content-sha256;x-amz-date"
	if f.creds.SessionToken != "" {
		want += ";x-amz-security-token"
		if got := r.Header.Get("X-Amz-Security-Token"); got != f.creds.SessionToken {
			return "", fmt.Errorf("session token %q, want %q", got, f.creds.SessionToken)
		}
	}
	if signed != want {
		return "", fmt.Errorf("signed headers %q, want %q", signed, want)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", fmt.Errorf("X-Amz-Date: %v", err)
	}
	if d := time.Since(when); d > time.Minute || d < -time.Minute {
		return "", fmt.Errorf("X-Amz-Date is %s off", d)
	}
	// The same request as the server got it, with only the signed headers.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	again, _ := http.NewRequest(r.Method, u.String(), nil)
	again.URL.RawPath = r.URL.RawPath
	for _, h := range strings.Split(signed, ";") {
		if h != "host" {
			again.Header.Set(h, r.Header.Get(h))
		}
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	ac := aws.Credentials{AccessKeyID: f.creds.AccessKeyID, SecretAccessKey: f.creds.SecretAccessKey, SessionToken: f.creds.SessionToken}
	if err := signer.SignHTTP(context.Background(), ac, again, r.Header.Get("X-Amz-Content-Sha256"), "s3", scope[2], when); err != nil {
		return "", err
	}
	if got := again.Header.Get("Authorization"); got != auth {
		return "", fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, got)
	}
	return scope[2], nil
}

func envLookup(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

var testCreds = Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "token/with+slash="}

// serveS3 starts a fake S3 and a Config pointing at it, with testCreds in
// the environment.
func serveS3(t *testing.T, f *fakeS3) Config {
	t.Helper()
	f.t = t
	if f.region == "" {
		f.region = "eu-west-1"
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": f.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": f.creds.SecretAccessKey,
		"AWS_SESSION_TOKEN": f.creds.SessionToken, "AWS_REGION": f.region, "AWS_ENDPOINT_URL_S3": srv.URL,
	}
	return FromEnv(envLookup(env))
}

func TestDownload(t *testing.T) {
	key := "jobs/train 1/source+dir=ü~(1).tar.gz"
	f := &fakeS3{creds: testCreds, objects: map[string][]byte{"bucket/" + key: []byte("code")}}
	c := serveS3(t, f)
	dst := filepath.Join(t.TempDir(), "sourcedir.tar.gz")
	if err := c.Download(context.Background(), "s3://bucket/"+key, dst); err != nil {
		t.Fatalf("Download: %v", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "code" {
		t.Errorf("downloaded %q (%v), want %q", b, err, "code")
	}
	assertOnly(t, filepath.Dir(dst), "sourcedir.tar.gz")
}

func TestDownloadWithoutSessionToken(t *testing.T) {
	creds := testCreds
	creds.SessionToken = ""
	f := &fakeS3{creds: creds, objects: map[string][]byte{"bucket/k": []byte("x")}}
	c := serveS3(t, f)
	if err := c.Download(context.Background(), "s3://bucket/k", filepath.Join(t.TempDir(), "k")); err != nil {
		t.Fatalf("Download: %v", err)
	}
}

func TestDownloadFollowsTheBucketsRegion(t *testing.T) {
	f := &fakeS3{creds: testCreds, region: "ap-southeast-2", objects: map[string][]byte{"bucket/k": []byte("x")}}
	c := serveS3(t, f)
	c.Region = "us-east-1"
	if err := c.Download(context.Background(), "s3://bucket/k", filepath.Join(t.TempDir(), "k")); err != nil {
		t.Fatalf("Download: %v", err)
	}
	if f.requests != 2 {
		t.Errorf("%d requests, want 2 (one redirected, one signed for ap-southeast-2)", f.requests)
	}
}

func TestDownloadErrors(t *testing.T) {
	tests := []struct {
		name     string
		uri      string
		fail     int
		wantErr  string // substring; "" for success
		requests int
	}{
		{"missing key", "s3://bucket/nope", 0, "404 NoSuchKey: The specified key does not exist.", 1},
		{"two server errors, then the object", "s3://bucket/k", 2, "", 3},
		{"server errors throughout", "s3://bucket/k", 10, "500 InternalError", attempts},
		{"not an s3 URI", "https://bucket/k", 0, "is not an s3:// URI", 0},
		{"no key", "s3://bucket/", 0, "want s3://bucket/key", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeS3{creds: testCreds, fail: tt.fail, objects: map[string][]byte{"bucket/k": []byte("x")}}
			c := serveS3(t, f)
			dir := t.TempDir()
			err := c.Download(context.Background(), tt.uri, filepath.Join(dir, "out"))
			if f.requests != tt.requests {
				t.Errorf("%d requests, want %d", f.requests, tt.requests)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Download: %v", err)
				}
				assertOnly(t, dir, "out")
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Download = %v, want an error containing %q", err, tt.wantErr)
			}
			assertOnly(t, dir)
		})
	}
}

// assertOnly fails unless dir holds exactly names: no partial file left.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestObjectURL(t *testing.T) {
	tests := []struct {
		endpoint, region, bucket, key, want string
	}{
		{"", "us-east-1", "bucket", "a/b c.tar.gz", "https://bucket.s3.us-east-1.amazonaws.com/a/b%20c.tar.gz"},
		{"", "eu-west-1", "my.bucket", "k", "https://s3.eu-west-1.amazonaws.com/my.bucket/k"},
		{"", "cn-north-1", "bucket", "k", "https://bucket.s3.cn-north-1.amazonaws.com.cn/k"},
		{"http://127.0.0.1:9000/", "us-east-1", "bucket", "k+1", "http://127.0.0.1:9000/bucket/k%2B1"},
		{"https://s3.example.com/prefix", "us-east-1", "bucket", "k", "https://s3.example.com/prefix/bucket/k"},
	}
	for _, tt := range tests {
		u, err := Config{Endpoint: tt.endpoint}.objectURL(tt.region, tt.bucket, tt.key)
		if err != nil {
			t.Errorf("objectURL(%q, %q, %q): %v", tt.region, tt.bucket, tt.key, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("objectURL(%q, %q, %q) = %s, want %s", tt.region, tt.bucket, tt.key, got, tt.want)
		}
	}
	if _, err := (Config{Endpoint: "localhost:9000"}).objectURL("us-east-1", "b", "k"); err == nil {
		t.Error("objectURL with endpoint localhost:9000 = nil error, want one asking for a URL")
	}
}

func TestContainerCredentials(t *testing.T) {
	creds := Credentials{AccessKeyID: "ASIACONTAINER", SecretAccessKey: "containersecret", SessionToken: "containertoken"}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("secret-auth\n"), 0o600)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/credentials/abc" {
			http.NotFound(w, r)
			return
		}
		if full := r.URL.Query().Get("full"); full != "" && r.Header.Get("Authorization") != "secret-auth" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey,
			"Token": creds.SessionToken, "Expiration": time.Now().Add(time.Hour).Format(time.RFC3339)})
	}))
	defer svc.Close()
	f := &fakeS3{creds: creds, t: t, region: "us-east-1", objects: map[string][]byte{"b/k": []byte("x")}}
	s3 := httptest.NewServer(f)
	defer s3.Close()
	for name, env := range map[string]map[string]string{
		"relative URI, as SageMaker sets": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"},
		"full URI with a token file":      {"AWS_CONTAINER_CREDENTIALS_FULL_URI": svc.URL + "/v2/credentials/abc?full=1", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile},
	} {
		t.Run(name, func(t *testing.T) {
			env["AWS_ENDPOINT_URL"] = s3.URL
			c := FromEnv(envLookup(env))
			c.container = svc.URL
			if err := c.Download(context.Background(), "s3://b/k", filepath.Join(t.TempDir(), "k")); err != nil {
				t.Fatalf("Download: %v", err)
			}
		})
	}
	c := FromEnv(envLookup(map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": svc.URL + "/v2/credentials/abc?full=1", "AWS_ENDPOINT_URL": s3.URL}))
	err := c.Download(context.Background(), "s3://b/k", filepath.Join(t.TempDir(), "k"))
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("Download without the authorization token = %v, want the 401 named", err)
	}
}

func TestInstanceCredentials(t *testing.T) {
	creds := Credentials{AccessKeyID: "ASIAINSTANCE", SecretAccessKey: "instancesecret", SessionToken: "instancetoken"}
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
				http.Error(w, "bad token request", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, "imds-session")
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token") != "imds-session" {
			http.Error(w, "IMDSv2 token required", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/iam/security-credentials/":
			fmt.Fprint(w, "training-role\n")
		case "/latest/meta-data/iam/security-credentials/training-role":
			json.NewEncoder(w).Encode(map[string]string{"Code": "Success", "AccessKeyId": creds.AccessKeyID,
				"SecretAccessKey": creds.SecretAccessKey, "Token": creds.SessionToken})
		default:
			http.NotFound(w, r)
		}
	}))
	defer imds.Close()
	f := &fakeS3{creds: creds, t: t, region: "us-east-1", objects: map[string][]byte{"b/k": []byte("x")}}
	s3 := httptest.NewServer(f)
	defer s3.Close()
	c := FromEnv(envLookup(map[string]string{"AWS_ENDPOINT_URL": s3.URL}))
	c.imds = imds.URL
	if err := c.Download(context.Background(), "s3://b/k", filepath.Join(t.TempDir(), "k")); err != nil {
		t.Fatalf("Download: %v", err)
	}
}

func TestNoCredentials(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"metadata disabled", map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}, "AWS_ACCESS_KEY_ID"},
		{"half a key", map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}, "must be set together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := FromEnv(envLookup(tt.env)).Download(context.Background(), "s3://b/k", filepath.Join(dir, "k"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Download = %v, want an error containing %q", err, tt.want)
			}
			assertOnly(t, dir)
		})
	}
	// No service answers: the error says what was tried.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c := FromEnv(envLookup(nil))
	c.imds = dead.URL
	err := c.Download(context.Background(), "s3://b/k", filepath.Join(t.TempDir(), "k"))
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
		t.Errorf("Download with no credentials anywhere = %v, want ErrNoCredentials naming the sources", err)
	}
}

func TestParseURI(t *testing.T) {
	b, k, err := ParseURI("s3://my-bucket/a/b/sourcedir.tar.gz")
	if err != nil || b != "my-bucket" || k != "a/b/sourcedir.tar.gz" {
		t.Errorf("ParseURI = %q, %q, %v", b, k, err)
	}
	for _, bad := range []string{"", "s3://", "s3://bucket", "s3:///key", "S3://bucket/key", "/opt/ml/code"} {
		if _, _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) = nil error", bad)
		}
	}
}

func TestElement(t *testing.T) {
	doc := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access &amp; &lt;denied&gt; &quot;here&quot;</Message><Key>a/b</Key></Error>`)
	for name, want := range map[string]string{"Code": "AccessDenied", "Message": `Access & <denied> "here"`, "Key": "a/b", "RequestId": ""} {
		if got := element(doc, name); got != want {
			t.Errorf("element(%s) = %q, want %q", name, got, want)
		}
	}
	if got := element([]byte("<Code>unterminated"), "Code"); got != "" {
		t.Errorf("element of an unterminated element = %q, want \"\"", got)
	}
}

// TestDownloadKeepsAWSHeadersOnTheSignedHost: a redirect to another host is
// answered, not followed, so the session token (which net/http would
// forward, dropping only Authorization) never reaches that host; a 307
// naming the bucket's region is signed again for it.
func TestDownloadKeepsAWSHeadersOnTheSignedHost(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for k, v := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-") || k == "Authorization" {
				leaked = append(leaked, k+": "+strings.Join(v, ","))
			}
		}
		mu.Unlock()
		w.Write([]byte("stolen"))
	}))
	defer other.Close()
	// The same server under another host name: 127.0.0.1 against localhost.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	f := &fakeS3{creds: testCreds, objects: map[string][]byte{"bucket/k": []byte("x")}}
	c := serveS3(t, f)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", otherURL+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c.Endpoint = redirect.URL
	err := c.Download(context.Background(), "s3://bucket/k", filepath.Join(t.TempDir(), "k"))
	var se *Error
	if !errors.As(err, &se) || se.Status != http.StatusTemporaryRedirect {
		t.Errorf("Download = %v, want S3's 307 as an error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the redirect's other host received %q", leaked)
	}
}

// TestCredentialErrorIsCappedAndScrubbed: a credential endpoint that
// refuses with an echo of the request gets at most 1 KiB of it quoted, the
// authorization token removed.
func TestCredentialErrorIsCappedAndScrubbed(t *testing.T) {
	const token = "container-authz-token-0123456789"
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "denied; you sent Authorization: %s\n%s", r.Header.Get("Authorization"), strings.Repeat("x", 1<<20))
	}))
	defer svc.Close()
	env := map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": svc.URL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": token}
	err := Config{Lookup: envLookup(env)}.Download(context.Background(), "s3://b/k", filepath.Join(t.TempDir(), "k"))
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "403 Forbidden") {
		t.Errorf("Download = %v, want the 403 without the token", err)
	}
	if err != nil && len(err.Error()) > 2<<10 {
		t.Errorf("the error is %d bytes, want the body capped at 1 KiB", len(err.Error()))
	}
}
