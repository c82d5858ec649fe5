// Package local is `sagekit local`: SageMaker's own API on one local
// address, so boto3, the AWS CLI and any SDK drive training jobs and
// endpoints on the local container engine. The SageMaker control plane
// (JSON 1.1, X-Amz-Target SageMaker.*) and the runtime
// (POST /endpoints/NAME/invocations) share one listener; requests are
// validated against botocore's models (package wire), records persist in
// a bbolt file under the state directory (package store), jobs run
// through platform (packages training and hosting). docs/local.md lists
// every supported operation and member.
package local
