// Package examples holds complete sagekit projects, each written by
// `sagekit init` and kept identical to the templates' output by this
// package's tests:
//
//	go/              a Go decision tree on the SDK, FROM scratch
//	gpu/             the same algorithm on a CUDA base image
//	python-sklearn/  a scikit-learn decision tree behind the Python adapter
//	generic/         shell, awk and perl programs behind the runtime
//
// The Go examples have no go.mod of their own: they are packages of this
// module, so `go vet ./...` and `go test ./...` cover them. The container
// tests build every example and every template with internal/build and run
// them as SageMaker does.
package examples
