package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	ecrapi "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ErrNoRegion is returned when no AWS region is configured and none can be
// taken from a registry host.
var ErrNoRegion = errors.New("no AWS region configured: pass --region, set AWS_REGION, or set region in ~/.aws/config for your profile")

// LoadConfig loads the AWS configuration the way the AWS CLI does: the
// standard credential chain (environment, shared config and credentials
// files, SSO, web identity, container and instance roles). profile and region
// override the configured ones when not empty.
func LoadConfig(ctx context.Context, profile, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, &Error{Op: "loading AWS configuration", Err: err,
			Hint: "check ~/.aws/config and the AWS_PROFILE you use (aws configure list shows what is picked up)"}
	}
	return cfg, nil
}

// Client calls ECR and STS in one region.
type Client struct {
	ecr    *ecrapi.Client
	sts    *sts.Client
	region string
}

// New returns a client for cfg's region. A BaseEndpoint in cfg (or
// AWS_ENDPOINT_URL) is honoured, which is how tests reach a local server.
func New(cfg aws.Config) *Client {
	return &Client{ecr: ecrapi.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg), region: cfg.Region}
}

// ForRegistry returns a client for the region of r, using the FIPS endpoints
// of ECR when r is a FIPS host (unless cfg overrides the endpoint, which
// the SDK does not allow together with FIPS).
func ForRegistry(cfg aws.Config, r Registry) *Client {
	cfg = cfg.Copy()
	cfg.Region = r.Region
	c := New(cfg)
	if r.FIPS && cfg.BaseEndpoint == nil {
		c.ecr = ecrapi.NewFromConfig(cfg, func(o *ecrapi.Options) {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		})
	}
	return c
}

// Region is the region the client calls.
func (c *Client) Region() string { return c.region }

// Account returns the account of the caller's credentials (STS
// GetCallerIdentity).
func (c *Client) Account(ctx context.Context) (string, error) {
	if c.region == "" {
		return "", ErrNoRegion
	}
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", explain("finding the AWS account (sts:GetCallerIdentity)", c.region, err)
	}
	return aws.ToString(out.Account), nil
}

// Credentials are registry credentials from GetAuthorizationToken. Password
// is a secret: never log or print it.
type Credentials struct {
	Username string
	Password string
	// ProxyEndpoint is the registry URL the token is for.
	ProxyEndpoint string
	// ExpiresAt is when the registry stops accepting the token (about 12
	// hours after it was issued).
	ExpiresAt time.Time
}

// Login fetches registry credentials with ecr:GetAuthorizationToken.
func (c *Client) Login(ctx context.Context) (Credentials, error) {
	if c.region == "" {
		return Credentials{}, ErrNoRegion
	}
	out, err := c.ecr.GetAuthorizationToken(ctx, &ecrapi.GetAuthorizationTokenInput{})
	if err != nil {
		return Credentials{}, explain("getting an ECR token (ecr:GetAuthorizationToken)", c.region, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return Credentials{}, &Error{Op: "getting an ECR token", Err: errors.New("the response holds no authorization data"),
			Hint: "try again; if it persists, check the ECR endpoint you use (AWS_ENDPOINT_URL)"}
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		// The token itself is not quoted: it is a secret.
		return Credentials{}, &Error{Op: "decoding the ECR token", Err: errors.New("the token is not valid base64")}
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Credentials{}, &Error{Op: "decoding the ECR token", Err: errors.New(`the token is not of the form "user:password"`)}
	}
	return Credentials{Username: user, Password: pass, ProxyEndpoint: aws.ToString(d.ProxyEndpoint), ExpiresAt: aws.ToTime(d.ExpiresAt)}, nil
}

// RepositoryOptions say how a missing repository is created.
type RepositoryOptions struct {
	// NoCreate turns creation off: a missing repository is an error.
	NoCreate bool
	// ScanOnPush turns basic image scanning on for each push.
	ScanOnPush bool
	// ImmutableTags makes tags immutable: a pushed tag cannot be moved.
	ImmutableTags bool
	// KMSKey, when set, encrypts the repository with this KMS key (ARN, ID
	// or alias) instead of the default AES-256.
	KMSKey string
}

// Repository is an ECR repository as found or created.
type Repository struct {
	Name       string
	RegistryID string
	URI        string
	// Mutability is MUTABLE, IMMUTABLE or one of the *_WITH_EXCLUSION forms.
	Mutability types.ImageTagMutability
	// Exclusions are the wildcard filters of the *_WITH_EXCLUSION forms.
	Exclusions []string
	// Created is true when this call created the repository.
	Created bool
}

// TagImmutable reports whether an existing tag in r cannot be overwritten.
func (r *Repository) TagImmutable(tag string) bool {
	excluded := false
	for _, f := range r.Exclusions {
		if wildcardMatch(f, tag) {
			excluded = true
			break
		}
	}
	switch r.Mutability {
	case types.ImageTagMutabilityImmutable:
		return true
	case types.ImageTagMutabilityImmutableWithExclusion:
		return !excluded
	case types.ImageTagMutabilityMutableWithExclusion:
		return excluded
	default:
		return false
	}
}

// wildcardMatch matches s against pattern where '*' stands for any run of
// characters, the only wildcard ECR filters have.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// EnsureRepository returns the repository name in registryID, creating it
// when it is missing (DescribeRepositories, then CreateRepository). A
// repository that appears meanwhile (RepositoryAlreadyExistsException) is
// success: two pushes may race.
func (c *Client) EnsureRepository(ctx context.Context, registryID, name string, o RepositoryOptions) (*Repository, error) {
	if c.region == "" {
		return nil, ErrNoRegion
	}
	repo, err := c.describe(ctx, registryID, name)
	if err == nil {
		return repo, nil
	}
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		return nil, explain(fmt.Sprintf("looking up ECR repository %q (ecr:DescribeRepositories)", name), c.region, err)
	}
	if o.NoCreate {
		return nil, explain(fmt.Sprintf("looking up ECR repository %q", name), c.region, err)
	}
	in := &ecrapi.CreateRepositoryInput{
		RepositoryName:             aws.String(name),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: o.ScanOnPush},
		ImageTagMutability:         types.ImageTagMutabilityMutable,
	}
	if registryID != "" {
		in.RegistryId = aws.String(registryID)
	}
	if o.ImmutableTags {
		in.ImageTagMutability = types.ImageTagMutabilityImmutable
	}
	if o.KMSKey != "" {
		in.EncryptionConfiguration = &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String(o.KMSKey)}
	}
	out, err := c.ecr.CreateRepository(ctx, in)
	var exists *types.RepositoryAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		repo, err := c.describe(ctx, registryID, name)
		if err != nil {
			return nil, explain(fmt.Sprintf("looking up ECR repository %q (ecr:DescribeRepositories)", name), c.region, err)
		}
		return repo, nil
	case err != nil:
		return nil, explain(fmt.Sprintf("creating ECR repository %q (ecr:CreateRepository)", name), c.region, err)
	}
	repo = fromAPI(out.Repository, name, registryID)
	repo.Created = true
	return repo, nil
}

func (c *Client) describe(ctx context.Context, registryID, name string) (*Repository, error) {
	in := &ecrapi.DescribeRepositoriesInput{RepositoryNames: []string{name}}
	if registryID != "" {
		in.RegistryId = aws.String(registryID)
	}
	out, err := c.ecr.DescribeRepositories(ctx, in)
	if err != nil {
		return nil, err
	}
	for i := range out.Repositories {
		if aws.ToString(out.Repositories[i].RepositoryName) == name {
			return fromAPI(&out.Repositories[i], name, registryID), nil
		}
	}
	return nil, &types.RepositoryNotFoundException{Message: aws.String("DescribeRepositories did not list " + name)}
}

func fromAPI(r *types.Repository, name, registryID string) *Repository {
	if r == nil {
		return &Repository{Name: name, RegistryID: registryID, Mutability: types.ImageTagMutabilityMutable}
	}
	out := &Repository{
		Name:       name,
		RegistryID: aws.ToString(r.RegistryId),
		URI:        aws.ToString(r.RepositoryUri),
		Mutability: r.ImageTagMutability,
	}
	if out.RegistryID == "" {
		out.RegistryID = registryID
	}
	for _, f := range r.ImageTagMutabilityExclusionFilters {
		if f.Filter != nil {
			out.Exclusions = append(out.Exclusions, *f.Filter)
		}
	}
	return out
}

// TagDigest returns the manifest digest the tag points to in the
// repository, or found=false when there is no such tag (DescribeImages).
func (c *Client) TagDigest(ctx context.Context, registryID, repo, tag string) (digest string, found bool, err error) {
	if c.region == "" {
		return "", false, ErrNoRegion
	}
	in := &ecrapi.DescribeImagesInput{
		RepositoryName: aws.String(repo),
		ImageIds:       []types.ImageIdentifier{{ImageTag: aws.String(tag)}},
	}
	if registryID != "" {
		in.RegistryId = aws.String(registryID)
	}
	out, err := c.ecr.DescribeImages(ctx, in)
	var nf *types.ImageNotFoundException
	switch {
	case errors.As(err, &nf):
		return "", false, nil
	case err != nil:
		return "", false, explain(fmt.Sprintf("looking up tag %q in ECR repository %q (ecr:DescribeImages)", tag, repo), c.region, err)
	}
	for _, d := range out.ImageDetails {
		for _, t := range d.ImageTags {
			if t == tag {
				return aws.ToString(d.ImageDigest), true, nil
			}
		}
	}
	return "", false, nil
}
