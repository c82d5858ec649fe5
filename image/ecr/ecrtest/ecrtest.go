package ecrtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/registry"
)

// Fixed identities of the fake account. The secrets are distinctive so
// tests can search logs for them.
const (
	Account         = "123456789012"
	Region          = "us-east-1"
	AccessKeyID     = "AKIAFAKEFAKEFAKE0001"
	SecretAccessKey = "fake-secret-access-key-do-not-print"
	Username        = "AWS"
	Password        = "ecr-password-7f3a9c1e-must-never-be-printed"
)

// Token is the authorization token GetAuthorizationToken returns: base64
// of "AWS:<Password>", as ECR sends it.
var Token = base64.StdEncoding.EncodeToString([]byte(Username + ":" + Password))

// Repo is a repository held by the fake.
type Repo struct {
	Name       string
	Mutability string
	ScanOnPush bool
	KMSKey     string
}

type apiError struct{ code, message string }

// Server is a fake of the ECR and STS APIs.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	repos    map[string]*Repo
	tags     map[string]string // repo+":"+tag -> digest
	failures map[string]apiError
	once     map[string]apiError
	calls    []string
}

// New starts a fake ECR/STS endpoint, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{repos: map[string]*Repo{}, tags: map[string]string{}, failures: map[string]apiError{}, once: map[string]apiError{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Config returns an AWS configuration with static credentials that sends
// every ECR and STS call to the fake.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region: Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "ecrtest"}, nil
		}),
		BaseEndpoint:     aws.String(s.URL),
		RetryMaxAttempts: 1,
	}
}

// AddRepository creates a repository; mutability is "MUTABLE" or "IMMUTABLE".
func (s *Server) AddRepository(name, mutability string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = &Repo{Name: name, Mutability: mutability}
}

// SetTag records that tag in repo points to digest.
func (s *Server) SetTag(repo, tag, digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[repo+":"+tag] = digest
}

// Fail makes every call of op (for example "CreateRepository" or
// "GetCallerIdentity") fail with the AWS error code and message.
func (s *Server) Fail(op, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[op] = apiError{code, message}
}

// FailNext makes only the next call of op fail with the AWS error code and
// message.
func (s *Server) FailNext(op, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once[op] = apiError{code, message}
}

// failure returns the error op should answer with, if any. s.mu is held.
func (s *Server) failure(op string) (apiError, bool) {
	if f, ok := s.once[op]; ok {
		delete(s.once, op)
		return f, true
	}
	f, ok := s.failures[op]
	return f, ok
}

// Repository returns the repository called name, if the fake holds it.
func (s *Server) Repository(name string) (Repo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return Repo{}, false
	}
	return *r, true
}

// Calls returns the operations called so far, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

const targetPrefix = "AmazonEC2ContainerRegistry_V20150921."

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		http.Error(w, "request not signed with the fake's access key", http.StatusForbidden)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); strings.HasPrefix(target, targetPrefix) {
		s.serveECR(w, strings.TrimPrefix(target, targetPrefix), body)
		return
	}
	form, _ := url.ParseQuery(string(body))
	if form.Get("Action") == "GetCallerIdentity" {
		s.serveSTS(w)
		return
	}
	http.Error(w, "unknown operation", http.StatusBadRequest)
}

func (s *Server) serveSTS(w http.ResponseWriter) {
	s.mu.Lock()
	s.calls = append(s.calls, "GetCallerIdentity")
	f, failed := s.failure("GetCallerIdentity")
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if failed {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>`, f.code, f.message)
		return
	}
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::%[1]s:user/tester</Arn><UserId>AIDAFAKE</UserId><Account>%[1]s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, Account)
}

type repoJSON struct {
	RepositoryName     string `json:"repositoryName"`
	RegistryID         string `json:"registryId"`
	RepositoryURI      string `json:"repositoryUri"`
	RepositoryArn      string `json:"repositoryArn"`
	ImageTagMutability string `json:"imageTagMutability"`
}

func (r *Repo) json() repoJSON {
	return repoJSON{
		RepositoryName:     r.Name,
		RegistryID:         Account,
		RepositoryURI:      fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, Region, r.Name),
		RepositoryArn:      fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", Region, Account, r.Name),
		ImageTagMutability: r.Mutability,
	}
}

func (s *Server) serveECR(w http.ResponseWriter, op string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, op)
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(v)
	}
	fail := func(code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	if f, ok := s.failure(op); ok {
		fail(f.code, f.message)
		return
	}
	var in struct {
		RepositoryName             string   `json:"repositoryName"`
		RepositoryNames            []string `json:"repositoryNames"`
		ImageTagMutability         string   `json:"imageTagMutability"`
		ImageScanningConfiguration *struct {
			ScanOnPush bool `json:"scanOnPush"`
		} `json:"imageScanningConfiguration"`
		EncryptionConfiguration *struct {
			EncryptionType string `json:"encryptionType"`
			KMSKey         string `json:"kmsKey"`
		} `json:"encryptionConfiguration"`
		ImageIDs []struct {
			ImageTag string `json:"imageTag"`
		} `json:"imageIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		fail("InvalidParameterException", err.Error())
		return
	}
	switch op {
	case "GetAuthorizationToken":
		reply(map[string]any{"authorizationData": []map[string]any{{
			"authorizationToken": Token,
			"expiresAt":          float64(time.Now().Add(12 * time.Hour).Unix()),
			"proxyEndpoint":      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", Account, Region),
		}}})
	case "DescribeRepositories":
		var out []repoJSON
		for _, n := range in.RepositoryNames {
			r, ok := s.repos[n]
			if !ok {
				fail("RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", n, Account))
				return
			}
			out = append(out, r.json())
		}
		reply(map[string]any{"repositories": out})
	case "CreateRepository":
		if _, ok := s.repos[in.RepositoryName]; ok {
			fail("RepositoryAlreadyExistsException", fmt.Sprintf("The repository with name '%s' already exists in the registry with id '%s'", in.RepositoryName, Account))
			return
		}
		r := &Repo{Name: in.RepositoryName, Mutability: in.ImageTagMutability}
		if r.Mutability == "" {
			r.Mutability = "MUTABLE"
		}
		if in.ImageScanningConfiguration != nil {
			r.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
		}
		if in.EncryptionConfiguration != nil {
			r.KMSKey = in.EncryptionConfiguration.KMSKey
		}
		s.repos[r.Name] = r
		reply(map[string]any{"repository": r.json()})
	case "DescribeImages":
		if _, ok := s.repos[in.RepositoryName]; !ok {
			fail("RepositoryNotFoundException", "The repository with name '"+in.RepositoryName+"' does not exist")
			return
		}
		var details []map[string]any
		for _, id := range in.ImageIDs {
			d, ok := s.tags[in.RepositoryName+":"+id.ImageTag]
			if !ok {
				fail("ImageNotFoundException", fmt.Sprintf("The image with imageId {imageTag:'%s'} does not exist within the repository with name '%s'", id.ImageTag, in.RepositoryName))
				return
			}
			details = append(details, map[string]any{"imageDigest": d, "imageTags": []string{id.ImageTag}, "repositoryName": in.RepositoryName, "registryId": Account})
		}
		reply(map[string]any{"imageDetails": details})
	default:
		fail("UnknownOperationException", op)
	}
}

// Registry is a loopback OCI registry that counts blob uploads and, when
// built with a password, asks for HTTP Basic credentials as ECR does.
type Registry struct {
	*httptest.Server
	// Host is host:port of the server.
	Host string

	uploads  atomic.Int64
	requests atomic.Int64
	// Before, when set, runs before each request is served; it may block
	// (to stall an upload) or answer the request itself by returning true.
	before atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

// NewRegistry starts a registry on loopback. With password not empty,
// every request must carry Basic credentials user:password.
func NewRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	reg := &Registry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	reg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.requests.Add(1)
		if password != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="fake-registry",service="ecr.amazonaws.com"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		}
		if f := reg.before.Load(); f != nil && (*f)(w, r) {
			return
		}
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.URL.Query().Get("mount") == "" {
			reg.uploads.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	reg.Host = strings.TrimPrefix(reg.URL, "http://")
	t.Cleanup(reg.Close)
	return reg
}

// Uploads is the number of blob uploads started so far (POST
// /v2/.../blobs/uploads/ without a cross-repository mount).
func (r *Registry) Uploads() int64 { return r.uploads.Load() }

// Requests is the number of requests received so far, authenticated or not.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// Before sets a hook that runs before each authenticated request; it
// answers the request itself when it returns true.
func (r *Registry) Before(f func(w http.ResponseWriter, r *http.Request) bool) { r.before.Store(&f) }

// Transport returns a transport that sends requests meant for host (an ECR
// host such as Account.dkr.ecr.Region.amazonaws.com) to the registry over
// plain HTTP, leaving every other request to base (http.DefaultTransport
// when nil).
func (r *Registry) Transport(host string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Host != host {
			return base.RoundTrip(req)
		}
		out := req.Clone(req.Context())
		out.URL.Scheme = "http"
		out.URL.Host = r.Host
		out.Host = r.Host
		resp, err := base.RoundTrip(out)
		if resp != nil {
			// Relative Locations resolve against the ECR host, as they
			// would against ECR.
			resp.Request = req
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// ECRHost is the registry host of the fake account.
const ECRHost = Account + ".dkr.ecr." + Region + ".amazonaws.com"
