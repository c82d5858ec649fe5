// Package leaktest holds the end-to-end test that no secret reaches any
// output of the two binaries: it builds `sagekit` and `sagekit-runtime`,
// plants known credentials, drives every failure path against loopback
// servers that echo requests back, and greps stdout, stderr, failure files
// and logs. It is a package of its own so that the short test set does not
// link the whole CLI into a test binary for a test that skips there.
package leaktest
