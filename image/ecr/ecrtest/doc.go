// Package ecrtest serves the parts of Amazon ECR that a push uses on
// loopback, for tests: the ECR control plane's AWS JSON 1.1 protocol
// (GetAuthorizationToken, DescribeRepositories, CreateRepository,
// DescribeImages), STS GetCallerIdentity in the AWS query protocol, and an
// OCI registry (go-containerregistry's registry.New) that, like ECR, asks
// for HTTP Basic credentials and takes the password from the token.
//
// AWS itself cannot be reached from the machines the tests run on, so the
// wire protocol is served locally and the real AWS SDK for Go v2 is pointed
// at it through its endpoint override (aws.Config.BaseEndpoint).
package ecrtest
