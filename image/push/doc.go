// Package push writes images and image indexes to Amazon ECR and to any OCI
// registry with go-containerregistry.
//
// For an ECR destination (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG and
// the FIPS, China, dual-stack and isolated-partition hosts) it creates the
// repository when it is missing, refuses to move a tag of an immutable
// repository before anything is uploaded, and logs in with a token from
// GetAuthorizationToken through the AWS SDK, so AWS errors surface as they
// are. Other registries get credentials from the Docker configuration and
// its credential helpers (authn.DefaultKeychain).
//
// Blobs the registry already holds are not uploaded again, transient
// failures are retried with back-off, and the manifest is written last, so
// an interrupted push leaves no tag behind. Progress is reported as typed
// Events; the package itself prints nothing and logs only to the
// *slog.Logger it is given. No credential appears in a log, an event or an
// error: errors are scrubbed of the secrets used and of any Authorization
// value.
package push
