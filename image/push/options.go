package push

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sagekit/sagekit/image/ecr"
)

// Option configures a push.
type Option func(*options)

type options struct {
	logger    *slog.Logger
	events    func(Event)
	keychain  authn.Keychain
	auth      authn.Authenticator
	awsConfig *aws.Config
	repo      ecr.RepositoryOptions
	transport http.RoundTripper
	jobs      int
	backoff   remote.Backoff
	userAgent string
}

func makeOptions(opts []Option) *options {
	o := &options{
		logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		keychain:  authn.DefaultKeychain,
		transport: remote.DefaultTransport,
		jobs:      4,
		backoff:   remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 4},
		userAgent: "sagekit",
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithLogger sets the logger for what the push does (repository created,
// blobs skipped, retries). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithProgress calls f with each Event of the push, one call at a time.
// Default: none.
func WithProgress(f func(Event)) Option { return func(o *options) { o.events = f } }

// WithKeychain sets where credentials for registries other than ECR come
// from. Default: authn.DefaultKeychain (the Docker configuration and its
// credential helpers).
func WithKeychain(kc authn.Keychain) Option { return func(o *options) { o.keychain = kc } }

// WithAuth sets the registry credentials, for ECR too (the repository is
// still created through the AWS API). Default: from the keychain, or for
// ECR from GetAuthorizationToken.
func WithAuth(a authn.Authenticator) Option { return func(o *options) { o.auth = a } }

// WithAWSConfig sets the AWS configuration used for ECR destinations; its
// region is replaced by the registry host's. Default: loaded with the
// standard credential chain (config.LoadDefaultConfig) when the destination
// is an ECR host.
func WithAWSConfig(cfg aws.Config) Option { return func(o *options) { o.awsConfig = &cfg } }

// WithRepository says how a missing ECR repository is created. Default:
// created, mutable tags, no scan on push, AES-256 encryption.
func WithRepository(r ecr.RepositoryOptions) Option { return func(o *options) { o.repo = r } }

// WithTransport sets the HTTP transport to the registry. Default:
// remote.DefaultTransport.
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithJobs sets how many blobs are uploaded at once. Default: 4.
func WithJobs(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.jobs = n
		}
	}
}

// WithRetry sets the back-off for transient failures (connection resets,
// 408, 429, 5xx). Default: 4 tries, waiting 1 s, 3 s and 9 s (±10%).
func WithRetry(b remote.Backoff) Option { return func(o *options) { o.backoff = b } }

// WithUserAgent sets the User-Agent sent to the registry. Default: "sagekit".
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }
