// Package ecr talks to Amazon Elastic Container Registry for a push: it
// recognises ECR registry hosts (commercial, FIPS, China and the isolated
// partitions, IPv4 and dual-stack), fetches registry credentials with
// GetAuthorizationToken through the AWS SDK's standard credential chain,
// finds the account with STS GetCallerIdentity, creates repositories when
// they are missing and reports whether a tag may be overwritten.
//
// AWS errors are returned as the SDK reports them, wrapped in an *Error that
// adds what to do about them.
package ecr
