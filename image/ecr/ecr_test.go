// The tests in this file run the real AWS SDK for Go v2 against
// ecrtest.Server, a local HTTP server speaking ECR's AWS JSON 1.1 protocol
// and STS's query protocol, reached through the SDK's endpoint override
// (aws.Config.BaseEndpoint) with static credentials. AWS itself cannot be
// reached from the machines these tests run on, so the wire protocol is
// served locally.
package ecr_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/image/ecr"
	"github.com/sagekit/sagekit/image/ecr/ecrtest"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		host string
		want ecr.Registry
		ok   bool
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", ecr.Registry{Account: "123456789012", Region: "us-east-1", Suffix: "amazonaws.com"}, true},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ecr.Registry{Account: "123456789012", Region: "us-gov-west-1", FIPS: true, Suffix: "amazonaws.com"}, true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", ecr.Registry{Account: "123456789012", Region: "cn-north-1", Suffix: "amazonaws.com.cn"}, true},
		{"123456789012.dkr-ecr.eu-west-1.on.aws", ecr.Registry{Account: "123456789012", Region: "eu-west-1", DualStack: true, Suffix: "on.aws"}, true},
		{"123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", ecr.Registry{Account: "123456789012", Region: "cn-northwest-1", DualStack: true, Suffix: "on.amazonwebservices.com.cn"}, true},
		{"123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", ecr.Registry{Account: "123456789012", Region: "us-iso-east-1", Suffix: "c2s.ic.gov"}, true},
		{"123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", ecr.Registry{Account: "123456789012", Region: "us-east-1", Suffix: "amazonaws.com"}, true},
		{"public.ecr.aws", ecr.Registry{}, false},
		{"12345678901.dkr.ecr.us-east-1.amazonaws.com", ecr.Registry{}, false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com:443", ecr.Registry{}, false},
		{"123456789012.dkr-ecr.us-east-1.amazonaws.com", ecr.Registry{}, false},
		{"123456789012.dkr.ecr.us-east-1.on.aws", ecr.Registry{}, false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", ecr.Registry{}, false},
		{"ghcr.io", ecr.Registry{}, false},
		{"localhost:5000", ecr.Registry{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, ok := ecr.ParseHost(tt.host)
			if ok != tt.ok {
				t.Fatalf("ParseHost(%q) ok = %v, want %v", tt.host, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseHost(%q) mismatch (-want +got):\n%s", tt.host, diff)
			}
			if ok && got.Host() != strings.ToLower(tt.host) {
				t.Errorf("ParseHost(%q).Host() = %q, want it back", tt.host, got.Host())
			}
		})
	}
}

func TestHostFor(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-east-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
		{"cn-north-1", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"},
		{"us-gov-west-1", "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com"},
		{"us-isob-east-1", "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov"},
	}
	for _, tt := range tests {
		if got := ecr.HostFor("123456789012", tt.region); got != tt.want {
			t.Errorf("HostFor(%q) = %q, want %q", tt.region, got, tt.want)
		}
	}
}

func FuzzParseHost(f *testing.F) {
	f.Add("123456789012.dkr.ecr.us-east-1.amazonaws.com")
	f.Add("123456789012.dkr-ecr.eu-west-1.on.aws")
	f.Add("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com")
	f.Fuzz(func(t *testing.T, host string) {
		r, ok := ecr.ParseHost(host)
		if !ok {
			return
		}
		if got := r.Host(); got != strings.ToLower(host) {
			t.Errorf("ParseHost(%q).Host() = %q", host, got)
		}
		if len(r.Account) != 12 || r.Region == "" {
			t.Errorf("ParseHost(%q) = %+v: account or region missing", host, r)
		}
	})
}

func newClient(t *testing.T) (*ecr.Client, *ecrtest.Server) {
	t.Helper()
	s := ecrtest.New(t)
	return ecr.New(s.Config()), s
}

func TestLogin(t *testing.T) {
	c, _ := newClient(t)
	creds, err := c.Login(context.Background())
	if err != nil {
		t.Fatalf("Login() error = %v", err)
	}
	if creds.Username != ecrtest.Username || creds.Password != ecrtest.Password {
		t.Errorf("Login() = user %q, a password of %d bytes; want the fake's", creds.Username, len(creds.Password))
	}
	if creds.ExpiresAt.IsZero() || !strings.Contains(creds.ProxyEndpoint, ecrtest.ECRHost) {
		t.Errorf("Login() = expiry %v, endpoint %q", creds.ExpiresAt, creds.ProxyEndpoint)
	}
}

func TestAccount(t *testing.T) {
	c, _ := newClient(t)
	got, err := c.Account(context.Background())
	if err != nil || got != ecrtest.Account {
		t.Fatalf("Account() = %q, %v; want %q", got, err, ecrtest.Account)
	}
}

func TestEnsureRepositoryCreates(t *testing.T) {
	c, s := newClient(t)
	opts := ecr.RepositoryOptions{ScanOnPush: true, ImmutableTags: true, KMSKey: "alias/models"}
	repo, err := c.EnsureRepository(context.Background(), ecrtest.Account, "team/model", opts)
	if err != nil {
		t.Fatalf("EnsureRepository() error = %v", err)
	}
	if !repo.Created || repo.Mutability != types.ImageTagMutabilityImmutable {
		t.Errorf("EnsureRepository() = %+v, want a created immutable repository", repo)
	}
	got, ok := s.Repository("team/model")
	want := ecrtest.Repo{Name: "team/model", Mutability: "IMMUTABLE", ScanOnPush: true, KMSKey: "alias/models"}
	if !ok || got != want {
		t.Errorf("fake holds %+v (present %v), want %+v", got, ok, want)
	}
	if diff := cmp.Diff([]string{"DescribeRepositories", "CreateRepository"}, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestEnsureRepositoryExisting(t *testing.T) {
	c, s := newClient(t)
	s.AddRepository("model", "MUTABLE")
	repo, err := c.EnsureRepository(context.Background(), ecrtest.Account, "model", ecr.RepositoryOptions{})
	if err != nil {
		t.Fatalf("EnsureRepository() error = %v", err)
	}
	if repo.Created {
		t.Errorf("EnsureRepository() created an existing repository")
	}
	if diff := cmp.Diff([]string{"DescribeRepositories"}, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestEnsureRepositoryAlreadyExists covers the race where another push
// creates the repository between DescribeRepositories and CreateRepository:
// RepositoryAlreadyExistsException is success.
func TestEnsureRepositoryAlreadyExists(t *testing.T) {
	c, s := newClient(t)
	s.AddRepository("model", "IMMUTABLE")
	s.FailNext("DescribeRepositories", "RepositoryNotFoundException", "The repository with name 'model' does not exist")
	repo, err := c.EnsureRepository(context.Background(), ecrtest.Account, "model", ecr.RepositoryOptions{})
	if err != nil {
		t.Fatalf("EnsureRepository() error = %v, want success for an existing repository", err)
	}
	if repo.Created || repo.Mutability != types.ImageTagMutabilityImmutable {
		t.Errorf("EnsureRepository() = %+v, want the existing immutable repository", repo)
	}
	if diff := cmp.Diff([]string{"DescribeRepositories", "CreateRepository", "DescribeRepositories"}, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestEnsureRepositoryNoCreate(t *testing.T) {
	c, s := newClient(t)
	_, err := c.EnsureRepository(context.Background(), ecrtest.Account, "model", ecr.RepositoryOptions{NoCreate: true})
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "--no-create") {
		t.Fatalf("EnsureRepository(NoCreate) error = %v, want RepositoryNotFoundException with a hint", err)
	}
	if _, ok := s.Repository("model"); ok {
		t.Errorf("EnsureRepository(NoCreate) created the repository")
	}
}

func TestErrorsSayWhatToDo(t *testing.T) {
	const denied = "User: arn:aws:iam::123456789012:user/tester is not authorized to perform: ecr:CreateRepository"
	tests := []struct {
		name, op, code, msg string
		call                func(*ecr.Client) error
		hint                string
	}{
		{"access denied", "CreateRepository", "AccessDeniedException", denied,
			func(c *ecr.Client) error {
				_, err := c.EnsureRepository(context.Background(), ecrtest.Account, "model", ecr.RepositoryOptions{})
				return err
			}, "AmazonEC2ContainerRegistryPowerUser"},
		{"expired session", "GetAuthorizationToken", "ExpiredTokenException", "The security token included in the request is expired",
			func(c *ecr.Client) error { _, err := c.Login(context.Background()); return err }, "aws sso login"},
		{"bad keys", "GetCallerIdentity", "InvalidClientTokenId", "The security token included in the request is invalid.",
			func(c *ecr.Client) error { _, err := c.Account(context.Background()); return err }, "aws sts get-caller-identity"},
		{"kms", "CreateRepository", "KmsException", "Key not found",
			func(c *ecr.Client) error {
				_, err := c.EnsureRepository(context.Background(), ecrtest.Account, "model", ecr.RepositoryOptions{KMSKey: "nope"})
				return err
			}, "--kms-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := newClient(t)
			s.Fail(tt.op, tt.code, tt.msg)
			err := tt.call(c)
			var e *ecr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v (%T), want *ecr.Error", err, err)
			}
			if e.Code != tt.code {
				t.Errorf("Code = %q, want %q", e.Code, tt.code)
			}
			// The AWS message is reported as it is, and a hint follows.
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("error = %q, want the AWS message %q and a hint with %q", err, tt.msg, tt.hint)
			}
		})
	}
}

func TestNoRegion(t *testing.T) {
	s := ecrtest.New(t)
	cfg := s.Config()
	cfg.Region = ""
	if _, err := ecr.New(cfg).Login(context.Background()); !errors.Is(err, ecr.ErrNoRegion) {
		t.Errorf("Login() without a region error = %v, want ErrNoRegion", err)
	}
}

func TestTagDigest(t *testing.T) {
	c, s := newClient(t)
	s.AddRepository("model", "IMMUTABLE")
	s.SetTag("model", "v1", "sha256:aaaa")
	d, found, err := c.TagDigest(context.Background(), ecrtest.Account, "model", "v1")
	if err != nil || !found || d != "sha256:aaaa" {
		t.Errorf("TagDigest(v1) = %q, %v, %v; want sha256:aaaa, true, nil", d, found, err)
	}
	d, found, err = c.TagDigest(context.Background(), ecrtest.Account, "model", "v2")
	if err != nil || found {
		t.Errorf("TagDigest(v2) = %q, %v, %v; want not found", d, found, err)
	}
}

func TestTagImmutable(t *testing.T) {
	tests := []struct {
		mut        types.ImageTagMutability
		exclusions []string
		tag        string
		want       bool
	}{
		{types.ImageTagMutabilityMutable, nil, "v1", false},
		{types.ImageTagMutabilityImmutable, nil, "v1", true},
		{types.ImageTagMutabilityImmutableWithExclusion, []string{"latest", "dev-*"}, "dev-42", false},
		{types.ImageTagMutabilityImmutableWithExclusion, []string{"latest", "dev-*"}, "v1", true},
		{types.ImageTagMutabilityMutableWithExclusion, []string{"release-*-final"}, "release-2-final", true},
		{types.ImageTagMutabilityMutableWithExclusion, []string{"release-*-final"}, "release-2", false},
	}
	for _, tt := range tests {
		r := &ecr.Repository{Mutability: tt.mut, Exclusions: tt.exclusions}
		if got := r.TagImmutable(tt.tag); got != tt.want {
			t.Errorf("%s %v: TagImmutable(%q) = %v, want %v", tt.mut, tt.exclusions, tt.tag, got, tt.want)
		}
	}
}

func TestForRegistryUsesHostRegion(t *testing.T) {
	s := ecrtest.New(t)
	cfg := s.Config()
	cfg.Region = "eu-west-1"
	c := ecr.ForRegistry(cfg, ecr.Registry{Account: ecrtest.Account, Region: "us-east-1", FIPS: true})
	if c.Region() != "us-east-1" {
		t.Errorf("ForRegistry().Region() = %q, want the host's us-east-1", c.Region())
	}
	if _, err := c.Login(context.Background()); err != nil {
		t.Errorf("Login() through a FIPS host with an endpoint override: %v", err)
	}
}
