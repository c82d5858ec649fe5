// The tests in this file push to Amazon ECR as the AWS SDK for Go v2 and
// go-containerregistry see it, served on loopback: ecrtest.Server speaks
// ECR's AWS JSON 1.1 protocol and STS's query protocol and is reached
// through the SDK's endpoint override (aws.Config.BaseEndpoint) with static
// credentials, and ecrtest.Registry is an OCI registry that asks for Basic
// credentials as ECR does, reached by rewriting the ECR host in the HTTP
// transport. AWS itself cannot be reached from the machines these tests run
// on, so the wire protocol is served locally.
package push_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sagekit/sagekit/image/ecr"
	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/image/push"
)

type fakeECR struct {
	api *ecrtest.Server
	reg *ecrtest.Registry
}

func newFakeECR(t *testing.T) *fakeECR {
	t.Helper()
	return &fakeECR{api: ecrtest.New(t), reg: ecrtest.NewRegistry(t, ecrtest.Username, ecrtest.Password)}
}

// opts points a push at the fakes; nothing comes from the machine's AWS or
// Docker configuration.
func (f *fakeECR) opts(extra ...push.Option) []push.Option {
	return append([]push.Option{
		push.WithAWSConfig(f.api.Config()),
		push.WithTransport(f.reg.Transport(ecrtest.ECRHost, nil)),
		push.WithKeychain(anonymous),
		fast,
	}, extra...)
}

// remoteOpts reads the fake registry back with the fake's credentials.
func (f *fakeECR) remoteOpts() []remote.Option {
	return []remote.Option{
		remote.WithTransport(f.reg.Transport(ecrtest.ECRHost, nil)),
		remote.WithAuth(&authn.Basic{Username: ecrtest.Username, Password: ecrtest.Password}),
	}
}

func TestECRCreatesRepository(t *testing.T) {
	t.Parallel()
	f := newFakeECR(t)
	img := randomImage(t, 2)
	dst := ecrtest.ECRHost + "/team/model:v1"
	res, err := push.Image(context.Background(), img, dst, f.opts(push.WithRepository(ecr.RepositoryOptions{ScanOnPush: true, KMSKey: "alias/k"}))...)
	if err != nil {
		t.Fatalf("Image(%s) error = %v", dst, err)
	}
	if !res.RepositoryCreated {
		t.Errorf("Result.RepositoryCreated = false, want true")
	}
	repo, ok := f.api.Repository("team/model")
	if want := (ecrtest.Repo{Name: "team/model", Mutability: "MUTABLE", ScanOnPush: true, KMSKey: "alias/k"}); !ok || repo != want {
		t.Errorf("repository = %+v (present %v), want %+v", repo, ok, want)
	}
	desc, err := remote.Get(mustRef(t, dst), f.remoteOpts()...)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if desc.Digest != res.Digest || res.Digest != mustDigest(t, img) {
		t.Errorf("read back %s, pushed %s, image %s", desc.Digest, res.Digest, mustDigest(t, img))
	}
	if want := ecrtest.ECRHost + "/team/model@" + res.Digest.String(); res.DigestURI() != want {
		t.Errorf("DigestURI() = %q, want %q", res.DigestURI(), want)
	}
}

// TestECRExistingRepository: pushing to a repository that exists succeeds
// without trying to create it.
func TestECRExistingRepository(t *testing.T) {
	t.Parallel()
	f := newFakeECR(t)
	f.api.AddRepository("model", "MUTABLE")
	res, err := push.Image(context.Background(), randomImage(t, 1), ecrtest.ECRHost+"/model:v1", f.opts()...)
	if err != nil {
		t.Fatalf("Image() error = %v", err)
	}
	if res.RepositoryCreated {
		t.Errorf("Result.RepositoryCreated = true for an existing repository")
	}
	for _, c := range f.api.Calls() {
		if c == "CreateRepository" {
			t.Errorf("calls = %v, want no CreateRepository", f.api.Calls())
		}
	}
}

// TestECRRepositoryRace: CreateRepository answering "already exists" is
// success.
func TestECRRepositoryRace(t *testing.T) {
	t.Parallel()
	f := newFakeECR(t)
	f.api.AddRepository("model", "MUTABLE")
	f.api.FailNext("DescribeRepositories", "RepositoryNotFoundException", "The repository with name 'model' does not exist")
	if _, err := push.Image(context.Background(), randomImage(t, 1), ecrtest.ECRHost+"/model:v1", f.opts()...); err != nil {
		t.Fatalf("Image() error = %v, want success when the repository already exists", err)
	}
}

// TestECRImmutableTagRefusedBeforeUpload: the registry receives no blob.
func TestECRImmutableTagRefusedBeforeUpload(t *testing.T) {
	t.Parallel()
	f := newFakeECR(t)
	f.api.AddRepository("model", "IMMUTABLE")
	f.api.SetTag("model", "v1", "sha256:0000000000000000000000000000000000000000000000000000000000000001")
	_, err := push.Image(context.Background(), randomImage(t, 2), ecrtest.ECRHost+"/model:v1", f.opts()...)
	if !errors.Is(err, push.ErrImmutableTag) {
		t.Fatalf("Image() error = %v, want ErrImmutableTag", err)
	}
	if !strings.Contains(err.Error(), "new tag") {
		t.Errorf("error %q does not say what to do", err)
	}
	if n := f.reg.Requests(); n != 0 {
		t.Errorf("registry saw %d requests, want none", n)
	}
}

// TestECRImmutableTagSameDigest: re-pushing the image a tag already points
// to is not an error and sends nothing.
func TestECRImmutableTagSameDigest(t *testing.T) {
	t.Parallel()
	f := newFakeECR(t)
	img := randomImage(t, 1)
	f.api.AddRepository("model", "IMMUTABLE")
	f.api.SetTag("model", "v1", mustDigest(t, img).String())
	res, err := push.Image(context.Background(), img, ecrtest.ECRHost+"/model:v1", f.opts()...)
	if err != nil || !res.Unchanged {
		t.Fatalf("Image() = %+v, %v; want Unchanged", res, err)
	}
	if n := f.reg.Requests(); n != 0 {
		t.Errorf("registry saw %d requests, want 0", n)
	}
}

func TestECRAccessDenied(t *testing.T) {
	t.Parallel()
	f := newFakeECR(t)
	const msg = "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: ecr:CreateRepository on resource: *"
	f.api.Fail("CreateRepository", "AccessDeniedException", msg)
	_, err := push.Image(context.Background(), randomImage(t, 1), ecrtest.ECRHost+"/model:v1", f.opts()...)
	var e *ecr.Error
	if !errors.As(err, &e) || e.Code != "AccessDeniedException" {
		t.Fatalf("Image() error = %v, want an *ecr.Error with AccessDeniedException", err)
	}
	if !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "AmazonEC2ContainerRegistryPowerUser") {
		t.Errorf("error %q should hold the AWS message as is and what to do", err)
	}
	if n := f.reg.Uploads(); n != 0 {
		t.Errorf("registry saw %d uploads, want 0", n)
	}
}

func TestECRRegistryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, hint string
		status     int
		body       string
	}{
		{"expired token", "expired", http.StatusUnauthorized, `{"errors":[{"code":"DENIED","message":"Your authorization token has expired. Reauthenticate and try again."}]}`},
		{"missing repository policy", "repository policy", http.StatusForbidden, `{"errors":[{"code":"DENIED","message":"User: arn:aws:iam::210987654321:user/x is not authorized to perform: ecr:InitiateLayerUpload on resource: arn:aws:ecr:us-east-1:123456789012:repository/model because no resource-based policy allows the ecr:InitiateLayerUpload action"}]}`},
		{"missing repository", "drop --no-create", http.StatusNotFound, `{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'model' does not exist in the registry with id '123456789012'"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeECR(t)
			f.reg.Before(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					w.Write([]byte(tt.body))
					return true
				}
				return false
			})
			_, err := push.Image(context.Background(), randomImage(t, 1), ecrtest.ECRHost+"/model:v1", f.opts()...)
			var pe *push.Error
			if !errors.As(err, &pe) || !strings.Contains(pe.Hint, tt.hint) {
				t.Fatalf("Image() error = %v, want a hint with %q", err, tt.hint)
			}
		})
	}
}

// secretForms are every way the fake's secrets could leak: as they are,
// and base64-encoded alone or as user:password (Basic credentials, the ECR
// token).
func secretForms() []string {
	var out []string
	for _, s := range []string{ecrtest.Password, ecrtest.SecretAccessKey, ecrtest.Token, ecrtest.Username + ":" + ecrtest.Password} {
		out = append(out, s,
			base64.StdEncoding.EncodeToString([]byte(s)),
			base64.RawStdEncoding.EncodeToString([]byte(s)),
			base64.URLEncoding.EncodeToString([]byte(s)))
	}
	return out
}

// TestNoSecretReachesAnyLog captures the logger (at debug level), every
// progress event and the error strings of a successful push and of pushes
// the registry refuses with answers that quote the credentials back, and
// checks that no form of the password, token or AWS secret key appears.
func TestNoSecretReachesAnyLog(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &out, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	progress := push.WithProgress(func(e push.Event) {
		b, _ := json.Marshal(e)
		mu.Lock()
		out.Write(append(b, '\n'))
		mu.Unlock()
	})

	f := newFakeECR(t)
	res, err := push.Image(context.Background(), randomImage(t, 2), ecrtest.ECRHost+"/model:v1", f.opts(push.WithLogger(logger), progress)...)
	if err != nil {
		t.Fatalf("Image() error = %v", err)
	}
	mu.Lock()
	out.WriteString(res.TagURI() + " " + res.DigestURI() + "\n")
	mu.Unlock()

	// A registry that echoes the request's Authorization header, and a
	// signed redirect, in its error messages.
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest} {
		f := newFakeECR(t)
		f.reg.Before(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			msg := "rejected request with Authorization: " + r.Header.Get("Authorization") +
				" see https://bucket.s3.amazonaws.com/x?X-Amz-Security-Token=" + ecrtest.Token + "&X-Amz-Signature=abc"
			json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": msg}}})
			return true
		})
		_, err := push.Image(context.Background(), randomImage(t, 1), ecrtest.ECRHost+"/model:v1", f.opts(push.WithLogger(logger), progress)...)
		if err == nil {
			t.Fatalf("Image() against a refusing registry (%d) succeeded", status)
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("error %q: the echoed credentials were not replaced", err)
		}
		mu.Lock()
		out.WriteString(err.Error() + "\n")
		mu.Unlock()
	}

	mu.Lock()
	defer mu.Unlock()
	text := out.String()
	if !strings.Contains(text, `"kind":"blob-uploaded"`) || !strings.Contains(text, "pushed") {
		t.Fatalf("captured output lacks the push's events and logs:\n%s", text)
	}
	for _, s := range secretForms() {
		if strings.Contains(text, s) {
			t.Errorf("a secret (%d bytes, starting %.4q) reached the output:\n%s", len(s), s, text)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
