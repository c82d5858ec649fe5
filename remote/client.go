package remote

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Config says which AWS identity, region and API endpoint to use. Empty
// fields fall back to the AWS SDK's standard chain (AWS_PROFILE,
// AWS_REGION, ~/.aws/config, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
type Config struct {
	Profile string
	Region  string
	// EndpointURL is checked here and given to New with WithEndpointURL.
	EndpointURL string
}

// LoadConfig loads the AWS configuration the way the AWS CLI does, with
// c's overrides.
func LoadConfig(ctx context.Context, c Config) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.EndpointURL != "" {
		u, err := url.Parse(c.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, fmt.Errorf("--endpoint-url %q: want http://HOST:PORT or https://HOST", c.EndpointURL)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w; check ~/.aws/config and the AWS_PROFILE you use ('aws configure list' shows what is picked up)", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	return cfg, nil
}

// Client calls SageMaker, its runtime, CloudWatch Logs, S3 and STS in one
// region.
type Client struct {
	sm      *sagemaker.Client
	runtime *sagemakerruntime.Client
	logs    *cloudwatchlogs.Client
	s3      *s3.Client
	sts     *sts.Client
	region  string
	cfg     aws.Config
	// custom is true when SageMaker's calls go to a server other than
	// AWS's own.
	custom bool
}

type options struct{ endpointURL string }

// Option configures New.
type Option func(*options)

// WithEndpointURL sends the calls of every service to url (an emulator,
// 'sagekit local'), except those of a service given its own endpoint by
// AWS_ENDPOINT_URL_<SERVICE> or the profile's services section: so S3 can
// stay elsewhere when the server does not serve it. Default: the SDK's
// own resolution (AWS_ENDPOINT_URL*, else AWS).
func WithEndpointURL(url string) Option {
	return func(o *options) { o.endpointURL = strings.TrimRight(url, "/") }
}

// New returns a client for cfg. When the calls go to another server than
// AWS, S3 is addressed by path (bucket names in the URL path, not the host
// name), as emulators need.
func New(cfg aws.Config, opts ...Option) *Client {
	var o options
	for _, f := range opts {
		f(&o)
	}
	// base applies the endpoint URL to a service whose endpoint is the
	// general one (not one of its own).
	base := func(ep **string) {
		if o.endpointURL != "" && (*ep == nil || (cfg.BaseEndpoint != nil && **ep == *cfg.BaseEndpoint)) {
			*ep = aws.String(o.endpointURL)
		}
	}
	sm := sagemaker.NewFromConfig(cfg, func(so *sagemaker.Options) { base(&so.BaseEndpoint) })
	return &Client{
		sm:      sm,
		runtime: sagemakerruntime.NewFromConfig(cfg, func(so *sagemakerruntime.Options) { base(&so.BaseEndpoint) }),
		logs:    cloudwatchlogs.NewFromConfig(cfg, func(so *cloudwatchlogs.Options) { base(&so.BaseEndpoint) }),
		s3: s3.NewFromConfig(cfg, func(so *s3.Options) {
			base(&so.BaseEndpoint)
			so.UsePathStyle = so.UsePathStyle || so.BaseEndpoint != nil
			so.DisableLogOutputChecksumValidationSkipped = true // emulators send no checksums; nothing to tell
		}),
		sts:    sts.NewFromConfig(cfg, func(so *sts.Options) { base(&so.BaseEndpoint) }),
		region: cfg.Region,
		cfg:    withBase(cfg, o.endpointURL),
		custom: sm.Options().BaseEndpoint != nil,
	}
}

func withBase(cfg aws.Config, url string) aws.Config {
	if url != "" {
		cfg = cfg.Copy()
		cfg.BaseEndpoint = aws.String(url)
	}
	return cfg
}

// Config is the AWS configuration the client was made with, its endpoint
// URL included, for the clients of other services (ECR).
func (c *Client) Config() aws.Config { return c.cfg }

// Region is the region the client calls.
func (c *Client) Region() string { return c.region }

// Custom reports whether the client talks to a server other than AWS's own
// (--endpoint-url): then images are passed as they are, since such a server
// may run local images.
func (c *Client) Custom() bool { return c.custom }

// Account returns the account of the caller's credentials.
func (c *Client) Account(ctx context.Context) (string, error) {
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", Explain("finding the AWS account (sts:GetCallerIdentity)", err)
	}
	return aws.ToString(out.Account), nil
}
