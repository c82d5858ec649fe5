package s3get

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sagekit/sagekit/internal/redact"
)

// Credentials sign requests. SessionToken is set for temporary ones.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// ErrNoCredentials is returned when no source holds credentials.
var ErrNoCredentials = errors.New("no AWS credentials found")

// Default endpoints of the credential services, as the AWS SDKs use them.
const (
	containerHost = "http://169.254.170.2"
	imdsEndpoint  = "http://169.254.169.254"
)

// credentialSource is where findCredentials looks, in the AWS SDKs' order
// for what exists on SageMaker and in containers.
type credentialSource struct {
	lookup func(string) string
	client *http.Client
	// container and imds are the credential services' endpoints (tests
	// point them elsewhere).
	container, imds string
}

// find returns the first credentials found: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY; the container endpoint named by
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI (what SageMaker
// jobs and ECS tasks get); IMDSv2 unless AWS_EC2_METADATA_DISABLED=true.
func (s credentialSource) find(ctx context.Context) (Credentials, error) {
	if id, secret := s.lookup("AWS_ACCESS_KEY_ID"), s.lookup("AWS_SECRET_ACCESS_KEY"); id != "" || secret != "" {
		if id == "" || secret == "" {
			return Credentials{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
		}
		return Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: s.lookup("AWS_SESSION_TOKEN")}, nil
	}
	if rel, full := s.lookup("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), s.lookup("AWS_CONTAINER_CREDENTIALS_FULL_URI"); rel != "" || full != "" {
		u := full
		if rel != "" {
			u = s.container + rel
		}
		c, err := s.fromContainer(ctx, u)
		if err != nil {
			return Credentials{}, fmt.Errorf("container credentials from %s: %w", u, err)
		}
		return c, nil
	}
	if strings.EqualFold(s.lookup("AWS_EC2_METADATA_DISABLED"), "true") {
		return Credentials{}, fmt.Errorf("%w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached (AWS_EC2_METADATA_DISABLED=true rules out the instance's)", ErrNoCredentials)
	}
	c, err := s.fromInstance(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: not in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, no container credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), and the instance metadata service gave none (%v)", ErrNoCredentials, err)
	}
	return c, nil
}

// roleCredentials is the JSON both credential services answer with.
type roleCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	Token           string
	Code            string // IMDS: "Success"
	Message         string
}

func (r roleCredentials) credentials() (Credentials, error) {
	if r.Code != "" && r.Code != "Success" {
		return Credentials{}, fmt.Errorf("%s: %s", r.Code, redact.String(r.Message))
	}
	if r.AccessKeyID == "" || r.SecretAccessKey == "" {
		return Credentials{}, errors.New("the answer holds no AccessKeyId and SecretAccessKey")
	}
	return Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey, SessionToken: r.Token}, nil
}

func (s credentialSource) fromContainer(ctx context.Context, url string) (Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Credentials{}, err
	}
	token := s.lookup("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if file := s.lookup("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return Credentials{}, fmt.Errorf("reading the authorization token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		redact.Add("", token)
		req.Header.Set("Authorization", token)
	}
	var rc roleCredentials
	if err := s.getJSON(req, &rc); err != nil {
		return Credentials{}, err
	}
	return rc.credentials()
}

// fromInstance asks IMDSv2: a session token first, then the role's name, then
// its credentials.
func (s credentialSource) fromInstance(ctx context.Context) (Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	base := s.imds
	if v := s.lookup("AWS_EC2_METADATA_SERVICE_ENDPOINT"); v != "" {
		base = strings.TrimSuffix(v, "/")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil)
	if err != nil {
		return Credentials{}, err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "300")
	token, err := s.get(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("getting a metadata token: %w", err)
	}
	redact.Add("", string(token))
	const path = "/latest/meta-data/iam/security-credentials/"
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	req.Header.Set("X-aws-ec2-metadata-token", string(token))
	roles, err := s.get(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("listing the instance's role: %w", err)
	}
	role := strings.TrimSpace(strings.SplitN(string(roles), "\n", 2)[0])
	if role == "" {
		return Credentials{}, errors.New("the instance has no role attached")
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+path+role, nil)
	req.Header.Set("X-aws-ec2-metadata-token", string(token))
	var rc roleCredentials
	if err := s.getJSON(req, &rc); err != nil {
		return Credentials{}, fmt.Errorf("role %s: %w", role, err)
	}
	return rc.credentials()
}

// maxErrorBody is how much of a refusal's body an error quotes.
const maxErrorBody = 1 << 10

func (s credentialSource) get(req *http.Request) ([]byte, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The body may echo the request, token included: a little of it,
		// scrubbed, says enough.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
		msg := strings.ToValidUTF8(strings.TrimSpace(string(b[:min(len(b), maxErrorBody)])), "?")
		if len(b) > maxErrorBody {
			msg += " ..."
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, redact.String(msg))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (s credentialSource) getJSON(req *http.Request, v any) error {
	b, err := s.get(req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding the credentials: %w", err)
	}
	return nil
}
