// Package optml is the SageMaker /opt/ml container contract in one place:
// the directory layout, the file names, the environment variable names and
// typed loading of the configuration files SageMaker writes before it starts
// a training container.
//
// The root is /opt/ml, or the directory named by SAGEMAKER_BASE_DIR when it
// is set (the name the AWS toolkits use for the same purpose). Everything
// else in sagekit (the SDK, the runtime, the local runner and the conformance
// suite) takes its paths and names from here, so a rule changes in one file.
package optml
