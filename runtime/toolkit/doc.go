// Package toolkit computes what aws/sagemaker-training-toolkit gives a user
// program, exactly as the toolkit computes it: the split of hyperparameters
// into SageMaker's reserved keys and the user's own, the command-line
// arguments (mapping.to_cmd_args) and the SM_* environment
// (environment.Environment.to_env_vars), including Python's str() and
// json.dumps formatting of every value.
//
// It does no I/O of its own beyond what Detect does; the launcher
// (package launch) reads the config files and passes them in.
package toolkit
