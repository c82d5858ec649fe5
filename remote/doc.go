// Package remote runs training jobs, endpoints and batch transform jobs on
// Amazon SageMaker, or on any server that speaks its API (an emulator,
// `sagekit local`): it builds the API requests from typed specs, waits on
// jobs and endpoints, follows their CloudWatch logs with a host prefix, and
// explains AWS's errors with what to do about them.
//
// The package knows nothing of flags or terminals; the CLI parses flags into
// the specs here and renders the events the waiters emit.
package remote
