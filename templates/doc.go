// Package templates holds the project skeletons `sagekit init` writes: a Go
// algorithm on sagekit's SDK, a Python scikit-learn algorithm served through
// the runtime's Python adapter, and a generic project whose train and serve
// steps are the author's own commands.
//
// The skeletons are embedded in the binary. Render turns one into files for a
// set of Options; Write puts those files in a directory, refusing a non-empty
// one unless asked to overwrite.
package templates
