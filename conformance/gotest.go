package conformance

import (
	"strings"
	"testing"
)

// Run runs the suite against image from a Go test: every failed must-rule
// is a test error (with its hint), failed should-rules and the table are
// logged. It returns the report for further assertions.
//
//	func TestImageConforms(t *testing.T) {
//		conformance.Run(t, "my-algorithm:latest")
//	}
func Run(t testing.TB, image string, opts ...Option) *Report {
	t.Helper()
	rep, err := Check(t.Context(), image, opts...)
	if err != nil {
		t.Fatalf("conformance run on %s: %v", image, err)
		return nil
	}
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	for _, r := range rep.Results {
		if r.Status != StatusFail {
			continue
		}
		if r.Level == Must {
			t.Errorf("%s %s: %s (fix: %s)", r.ID, r.Description, r.Message, r.Hint)
		} else {
			t.Logf("should-rule %s failed: %s (fix: %s)", r.ID, r.Message, r.Hint)
		}
	}
	return rep
}
