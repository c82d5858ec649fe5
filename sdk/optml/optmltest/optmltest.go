// Package optmltest lays out a fake /opt/ml in a test's temporary directory,
// so algorithm authors can test their training and serving code with the
// files SageMaker would give them.
package optmltest

import (
	"testing"

	"github.com/sagekit/sagekit/sdk/optml"
)

// New lays out l in a fresh t.TempDir() and returns its paths. Set
// SAGEMAKER_BASE_DIR to paths.Root() (t.Setenv) to point code that calls
// optml.FromEnv at it.
func New(t testing.TB, l optml.Layout) optml.Paths {
	t.Helper()
	p := optml.At(t.TempDir())
	if err := p.Write(l); err != nil {
		t.Fatalf("optmltest: %v", err)
	}
	return p
}

// Setenv is New followed by t.Setenv(SAGEMAKER_BASE_DIR, root).
func Setenv(t *testing.T, l optml.Layout) optml.Paths {
	t.Helper()
	p := New(t, l)
	t.Setenv(optml.EnvBaseDir, p.Root())
	return p
}
