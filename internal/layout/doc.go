// Package layout holds the test that keeps the package tree's direction:
// what runs inside images (runtime/, serving/) never reaches host-side code,
// the author SDK (sdk/) reaches neither the CLI nor the local platform, and
// nothing in the product imports the benchmarks or the test helpers.
// docs/architecture.md draws the tree.
package layout
