package remote

import (
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"
)

// ErrNoRegion is returned when no AWS region is configured.
var ErrNoRegion = errors.New("no AWS region configured: pass --region, set AWS_REGION, or set region in ~/.aws/config for your profile")

// ErrNotFound is wrapped by the errors of Describe calls on a name that
// does not exist.
var ErrNotFound = errors.New("not found")

// RoleHint says how to find or create a SageMaker execution role.
const RoleHint = "pass --role with the ARN of an IAM role SageMaker can assume: list candidates with " +
	"aws iam list-roles --query \"Roles[?contains(RoleName,'SageMaker')].Arn\", or create one with " +
	"aws iam create-role --role-name SageMakerExecution --assume-role-policy-document " +
	"'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"sagemaker.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}' " +
	"then aws iam attach-role-policy --role-name SageMakerExecution --policy-arn arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"

// Error is a failed API call: what was being done, AWS's own error, and
// what to do about it.
type Error struct {
	// Op says what was being done, for example "creating training job x".
	Op string
	// Code is the AWS error code, empty when AWS was not reached.
	Code string
	// Hint says what to do; empty when there is nothing to add.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Err.Error()
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Context tells Explain what the failed call was about, so the hint can
// name the image to push or the quota to raise.
type Context struct {
	// Image is the image the call named.
	Image string
	// InstanceType and Usage name the quota: "ml.m5.large" and "training
	// job", "spot training job", "endpoint" or "transform job".
	InstanceType, Usage string
}

// Explain wraps err from op with a hint chosen by its AWS error code and
// message.
func Explain(op string, err error) error { return ExplainFor(op, err, Context{}) }

var quotaName = regexp.MustCompile(`'([^']+ usage)'`)

// ExplainFor is Explain with what the call was about.
func ExplainFor(op string, err error, c Context) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	}
	msg := err.Error()
	lower := strings.ToLower(msg)
	switch {
	case e.Code == "ResourceLimitExceeded":
		name := ""
		if m := quotaName.FindStringSubmatch(msg); m != nil {
			name = m[1]
		} else if c.InstanceType != "" && c.Usage != "" {
			name = c.InstanceType + " for " + c.Usage + " usage"
		}
		if name != "" {
			e.Hint = "a SageMaker service quota was reached: ask for more of \"" + name + "\" in the Service Quotas console (service Amazon SageMaker), or use another instance type"
		} else {
			e.Hint = "a SageMaker service quota was reached: look for it under Amazon SageMaker in the Service Quotas console and ask for an increase"
		}
	case strings.Contains(lower, "role") && (e.Code == "ValidationException" || e.Code == "AccessDeniedException"):
		e.Hint = "the execution role is missing or SageMaker cannot assume it; " + RoleHint
	case c.Image != "" && (strings.Contains(lower, "image") || strings.Contains(lower, "repository")) &&
		(strings.Contains(lower, "not exist") || strings.Contains(lower, "not found") || strings.Contains(lower, "cannot find") || strings.Contains(lower, "invalid")):
		e.Hint = "SageMaker pulls images from Amazon ECR only: push it with 'sagekit push " + c.Image + " --ecr REPO:TAG' and pass the image URI it prints"
	case e.Code == "AccessDeniedException" || e.Code == "AccessDenied":
		e.Hint = "your AWS identity lacks this permission: attach a policy that allows it (AmazonSageMakerFullAccess covers SageMaker), or use another profile with --profile or AWS_PROFILE"
	case e.Code == "ExpiredTokenException" || e.Code == "ExpiredToken":
		e.Hint = "your AWS session has expired: run 'aws sso login' or refresh the temporary credentials, then retry"
	case e.Code == "UnrecognizedClientException" || e.Code == "InvalidClientTokenId" || e.Code == "InvalidSignatureException":
		e.Hint = "AWS does not accept these credentials: 'aws sts get-caller-identity' shows which identity is picked up"
	case e.Code == "ThrottlingException":
		e.Hint = "SageMaker is throttling calls: wait a minute and retry"
	case e.Code == "ResourceInUse":
		e.Hint = "the name is taken: pick another with --name, or delete the old one first"
	case e.Code == "":
		var dns *net.DNSError
		switch {
		case errors.As(err, &dns):
			e.Hint = "no endpoint answers: check the region (--region, AWS_REGION), --endpoint-url and your network"
		case strings.Contains(lower, "no valid credential") || strings.Contains(lower, "failed to retrieve credentials") || strings.Contains(lower, "failed to refresh cached credentials"):
			e.Hint = "no AWS credentials found: run 'aws configure' or 'aws sso login', or set AWS_PROFILE"
		case strings.Contains(lower, "connection refused"):
			e.Hint = "nothing listens at the endpoint: check --endpoint-url or AWS_ENDPOINT_URL"
		}
	}
	return e
}

// notFound reports whether err is a Describe of a name that does not
// exist: SageMaker answers ValidationException "Could not find ...", or
// ResourceNotFound.
func notFound(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ResourceNotFound", "ResourceNotFoundException":
		return true
	case "ValidationException":
		m := strings.ToLower(api.ErrorMessage())
		return strings.Contains(m, "could not find") || strings.Contains(m, "does not exist") || strings.Contains(m, "not found")
	}
	return false
}
