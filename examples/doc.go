// Package examples holds complete sagekit projects. Four are written by
// `sagekit init` and kept identical to the templates' output by this
// package's tests:
//
//	go/              a Go decision tree on the SDK, FROM scratch
//	gpu/             the same algorithm on a CUDA base image
//	python-sklearn/  a scikit-learn decision tree behind the Python adapter
//	generic/         shell, awk and perl programs behind the runtime
//
// Two are programs in the shape of AWS's SageMaker samples for its Python
// toolkits, run unchanged, with their data and expected answers:
//
//	toolkit-sklearn-script/      a script-mode training script (argparse,
//	                             SM_CHANNEL_TRAIN, SM_MODEL_DIR) that also
//	                             serves its model (model_fn, input_fn)
//	toolkit-inference-handlers/  an inference.py with model_fn, input_fn,
//	                             predict_fn and an output_fn returning a dict
//
// The Go examples have no go.mod of their own: they are packages of this
// module, so `go vet ./...` and `go test ./...` cover them. The container
// tests build every example and every template with image/build and run
// them as SageMaker does.
package examples
