// Package entrypoint is what the sagekit-runtime binary in an image runs.
// SageMaker starts a container with the single argument "train" or
// "serve":
//
//   - train: the training launcher (package runtime/launch), as
//     sagemaker-training-toolkit runs a program;
//   - serve: the serving stack (package serving) with worker processes
//     (package serving/worker), or the Python adapter for code written for
//     sagemaker-inference-toolkit; SAGEMAKER_SUBMIT_DIRECTORY is fetched
//     first (packages runtime/s3get and runtime/codedir).
//
// Environment variables and flags are read here, at the edge, and passed
// inward as options.
package entrypoint
