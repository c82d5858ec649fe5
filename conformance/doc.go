// Package conformance checks a container image against the SageMaker
// container contract (docs/contract.md section 12) by playing SageMaker
// against it: it reads the image config and file list, runs `IMAGE train`
// the way a training job does (also with a read-only model directory to see
// the failure path, with SIGTERM, without a network, and on two hosts),
// then `IMAGE serve` with the trained model mounted read-only, polls /ping
// with SageMaker's limits and sends invocations.
//
// Every container-side rule of the checklist has a Rule with a stable id,
// a level (must or should), a one-line description and a fix hint. Rules
// that cannot be observed from outside a container are advice, listed with
// the reason. Results are pass, fail, skip, n/a or advice; only pass is a
// pass.
//
// Check runs the suite and returns a Report (rendered by WriteTable,
// WriteJSON and WriteJUnit); Run does the same inside a Go test. Containers
// are run through package platform (the Docker Engine API), labelled
// dev.sagekit.conformance=<run id>, and removed when the run ends, also when
// it is cancelled.
package conformance
