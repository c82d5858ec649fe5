package ecr

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"
)

// Error is a failed AWS call: the operation, the error as the SDK reported
// it, and what to do about it.
type Error struct {
	// Op says what was being done, for example "creating ECR repository \"x\"".
	Op string
	// Code is the AWS error code (for example "AccessDeniedException"), or
	// empty when the call never got an answer from AWS.
	Code string
	// Hint says what to do.
	Hint string
	// Err is the SDK's error.
	Err error
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Err.Error()
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// explain wraps err from an ECR or STS call made in region with a hint
// chosen by its AWS error code, or by the failure when AWS was not reached.
func explain(op, region string, err error) error {
	e := &Error{Op: op, Err: err}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	}
	e.Hint = hint(e.Code, region, err)
	return e
}

func hint(code, region string, err error) string {
	switch code {
	case "AccessDeniedException", "AccessDenied":
		return "your AWS identity lacks this permission: attach a policy that allows it (for pushing, " +
			"the managed policy AmazonEC2ContainerRegistryPowerUser is enough), or use another profile with --profile or AWS_PROFILE"
	case "ExpiredTokenException", "ExpiredToken", "RequestExpired":
		return "your AWS session has expired: run 'aws sso login' (SSO profiles) or refresh the temporary credentials, then retry"
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature":
		return "AWS does not accept these credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile in use " +
			"('aws sts get-caller-identity' shows which identity is picked up), and that the system clock is right"
	case "RepositoryNotFoundException":
		return fmt.Sprintf("the repository does not exist in this account in %s: check the name, the account and the region "+
			"(repositories are per region), or let sagekit create it (drop --no-create)", region)
	case "RepositoryPolicyNotFoundException":
		return "the repository has no policy allowing this: for a repository in another account, its owner must add a repository policy that allows your principal"
	case "KmsException":
		return "the KMS key could not be used: check the key ARN, ID or alias given with --kms-key, that it is in " + region +
			", and that your identity may use it (kms:CreateGrant, kms:DescribeKey, kms:GenerateDataKey)"
	case "LimitExceededException":
		return "an ECR service quota was reached: delete unused repositories or images, or ask for a quota increase in Service Quotas"
	case "InvalidParameterException":
		return "ECR rejected a parameter: repository names are lower case letters, digits and . _ - / (2 to 256 characters)"
	case "ServerException", "ThrottlingException", "ServiceUnavailable":
		return "ECR is busy or failing: wait a minute and retry"
	case "":
	default:
		return ""
	}
	msg := err.Error()
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Sprintf("no AWS endpoint answers for region %q: check the region (--region, AWS_REGION or the registry host) and your network", region)
	case strings.Contains(msg, "SSO") && (strings.Contains(msg, "token") || strings.Contains(msg, "expired")):
		return "the SSO session has expired or was never started: run 'aws sso login' (with --profile for your profile), then retry"
	case strings.Contains(msg, "get credentials") || strings.Contains(msg, "retrieve credentials") ||
		strings.Contains(msg, "refresh cached credentials") || strings.Contains(msg, "no EC2 IMDS role"):
		return "no AWS credentials were found: run 'aws configure' or 'aws sso login', set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case strings.Contains(msg, "Invalid region") || strings.Contains(msg, "invalid region"):
		return fmt.Sprintf("region %q is not valid: check --region, AWS_REGION or the registry host", region)
	}
	return ""
}
