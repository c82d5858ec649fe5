// Package serving is sagekit's HTTP serving stack for SageMaker hosting and
// batch transform: one Go process in place of nginx in front of gunicorn (or
// the inference toolkit's Java model server).
//
// New wraps a serve.Handler, either a Go model served in process or a pool of
// worker processes (package serving/worker), in the routes SageMaker calls:
//
//	GET  /ping                   200 once the model is loaded, 503 before and while shutting down
//	POST /invocations            the handler's answer; 408, 413, 503 and 504 from the stack itself
//	GET  /execution-parameters   batch transform parameters (MultiRecord spelling)
//	POST /models, GET /models, GET|DELETE /models/{name}, POST /models/{name}/invoke
//	                             the multi-model API, with WithMultiModel
//
// Every other path answers 404 with the body "{}". Run listens, loads the
// model within the start-up timeout and serves until its context ends, then
// fails /ping, lets in-flight requests finish and returns well inside
// SageMaker's 30 s kill window.
//
// The package reads no environment variables itself: OptionsFromEnv turns
// the SAGEMAKER_* variables into options at the program's edge.
package serving
