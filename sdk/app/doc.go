// Package app is the entry point of a Go algorithm image: the binary is the
// image's ENTRYPOINT and SageMaker's "train" or "serve" arrives as its first
// argument.
//
//	func main() {
//		app.Main(app.Options{Train: fit, Handler: &model{}})
//	}
//
// "train" runs the training program through package sdk/train (failure
// file, exit code, SIGTERM). "serve" runs the sagekit serving stack (package serving) around the
// handler in this process: no worker processes, no copy of the model per
// worker.
package app
