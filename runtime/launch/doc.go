// Package launch is the training launcher behind `sagekit-runtime train`:
// what aws/sagemaker-training-toolkit does before and around a user's
// training program, as a small static binary.
//
// Run finds the program (SAGEMAKER_PROGRAM, else the sagemaker_program
// hyperparameter, else the command given after --), passes the user's
// hyperparameters as command-line arguments and exports the SM_* environment
// exactly as the toolkit does (package toolkit), then runs it in its own
// process group. Unlike the toolkit it forwards SIGTERM and SIGINT to that
// group and kills it only after a grace period, ends what the program left
// running in the group once it exits (SIGTERM, then SIGKILL after the same
// grace period), exits with the program's own
// exit code (128+n for a death by signal n), streams stdout and stderr
// through unbuffered, and, when the program fails without writing
// /opt/ml/output/failure itself, writes one whose first line is the cause
// and which quotes the program's last stderr lines.
package launch
