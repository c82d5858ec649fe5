package push

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrImmutableTag is matched (errors.Is) by the error returned when the tag
// already exists, pointing elsewhere, in a repository whose tags cannot be
// moved.
var ErrImmutableTag = errors.New("tag exists in an immutable repository")

// ImmutableTagError says which tag of which repository cannot be moved.
type ImmutableTagError struct {
	Repository string
	Tag        string
	// Existing is the digest the tag points to now.
	Existing string
	// Digest is the digest that was to be pushed.
	Digest string
}

func (e *ImmutableTagError) Error() string {
	return fmt.Sprintf("tag %q already exists in ECR repository %q, whose tags are immutable, and points to %s, not %s: "+
		"nothing was uploaded; push under a new tag, or delete the old image first (aws ecr batch-delete-image --repository-name %s --image-ids imageTag=%s)",
		e.Tag, e.Repository, e.Existing, e.Digest, e.Repository, e.Tag)
}

// Is reports whether target is ErrImmutableTag.
func (e *ImmutableTagError) Is(target error) bool { return target == ErrImmutableTag }

// Error is a failed push to a registry, with what to do about it.
type Error struct {
	// Ref is the destination.
	Ref string
	// Hint says what to do; empty when there is nothing useful to say.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	s := "pushing to " + e.Ref + ": " + e.Err.Error()
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// target describes the destination for the hints.
type target struct {
	ref    string
	host   string
	repo   string
	ecr    bool
	region string
}

// explain wraps an error from the registry protocol with a hint chosen by
// its status and error code.
func explain(t target, err error) error {
	return &Error{Ref: t.ref, Hint: registryHint(t, err), Err: err}
}

func registryHint(t target, err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the push was interrupted before the manifest was written, so no tag was set; run it again (blobs already uploaded are not sent twice)"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if t.ecr {
			return fmt.Sprintf("host %s does not resolve: check the account and region in the image URI (region %q) and your network", t.host, t.region)
		}
		return fmt.Sprintf("host %s does not resolve: check the registry name and your network", t.host)
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return ""
	}
	code := transport.ErrorCode("")
	if len(te.Errors) > 0 {
		code = te.Errors[0].Code
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || code == transport.UnauthorizedErrorCode:
		if t.ecr {
			return fmt.Sprintf("the registry did not accept the ECR token: it may have expired (tokens last 12 hours; running again fetches a new one) "+
				"or have been issued for another region or partition than the host's (%s); check the account and region in the image URI", t.region)
		}
		return fmt.Sprintf("log in with 'docker login %s' (credentials come from the Docker configuration and its credential helpers) and check them", t.host)
	case te.StatusCode == http.StatusForbidden || code == transport.DeniedErrorCode:
		if t.ecr {
			return fmt.Sprintf("your AWS identity may not push to %s: it needs ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, "+
				"ecr:CompleteLayerUpload and ecr:PutImage on the repository (the managed policy AmazonEC2ContainerRegistryPowerUser has them); "+
				"for a repository in another account, its repository policy must also allow your principal (aws ecr set-repository-policy)", t.repo)
		}
		return fmt.Sprintf("your credentials for %s lack push rights on %s: check the account with the registry, or log in again with 'docker login %s'", t.host, t.repo, t.host)
	case code == transport.NameUnknownErrorCode || (te.StatusCode == http.StatusNotFound && code == ""):
		if t.ecr {
			return fmt.Sprintf("repository %q does not exist in this registry (region %s): let sagekit create it (drop --no-create) or check the account and region in the image URI", t.repo, t.region)
		}
		return fmt.Sprintf("repository %q does not exist: create it in the registry first, or check the name", t.repo)
	case code == transport.TagInvalidErrorCode:
		return "the registry refused the tag; in an ECR repository with immutable tags, push under a new tag"
	case te.StatusCode == http.StatusTooManyRequests || code == transport.TooManyRequestsErrorCode:
		return "the registry is limiting the request rate: wait and retry, or lower --jobs"
	case te.StatusCode >= 500:
		return "the registry kept failing after retries: try again later"
	case code == transport.ManifestInvalidErrorCode || code == transport.ManifestBlobUnknownErrorCode:
		return "the registry rejected the manifest: some registries refuse an OCI index that lists Docker manifests; rebuild with one media type family"
	}
	return ""
}
