package conformance_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/conformance/fixtures"
)

// TestDocsCurrent: the rule reference in docs/conformance.md is the one
// generated from the rule declarations (make docs writes it).
func TestDocsCurrent(t *testing.T) {
	path := filepath.Join("..", "docs", "conformance.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := conformance.UpdateDocs(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("%s is out of date with the rule declarations: run make docs", path)
	}
}

func TestUpdateDocsNeedsMarkers(t *testing.T) {
	if _, err := conformance.UpdateDocs([]byte("# no markers\n")); !errors.Is(err, conformance.ErrNoMarkers) {
		t.Errorf("UpdateDocs without markers = %v, want ErrNoMarkers", err)
	}
}

// TestEveryRuleDocumented: every rule has a description and a hint, and
// either says how it is checked or why it is advice.
func TestEveryRuleDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range conformance.Rules() {
		if seen[r.ID] {
			t.Errorf("rule %s is listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Description == "" || r.Hint == "" || (r.How == "" && r.Advice == "") {
			t.Errorf("rule %s lacks a description, a hint, or how it is checked", r.ID)
		}
		if r.Level != conformance.Must && r.Level != conformance.Should {
			t.Errorf("rule %s has level %q", r.ID, r.Level)
		}
		if !strings.HasPrefix(r.ID, "C-") && !strings.HasPrefix(r.ID, "T-") {
			t.Errorf("rule %s is not a container-side rule", r.ID)
		}
	}
}

// TestEveryCheckedRuleHasAFixture: a rule the suite checks has a known-bad
// fixture image that must fail it. The exceptions need what CI lacks.
func TestEveryCheckedRuleHasAFixture(t *testing.T) {
	exceptions := map[string]string{
		"C-GPU-02": "needs a GPU runtime in the engine to observe",
	}
	have := map[string]bool{}
	for _, f := range fixtures.Breaks {
		have[f.Break] = true
	}
	for _, id := range fixtures.ToolkitInferenceBreaks {
		have[id] = true
	}
	for _, r := range conformance.Rules() {
		checked := r.Advice == "" && !strings.HasPrefix(r.ID, "T-TR")
		if checked && !have[r.ID] && exceptions[r.ID] == "" {
			t.Errorf("rule %s is checked but has no known-bad fixture", r.ID)
		}
		if !checked && have[r.ID] {
			t.Errorf("rule %s has a fixture but is not checked", r.ID)
		}
	}
}

// TestContractRulesCovered: every container-side id of contract section 12
// has a rule.
func TestContractRulesCovered(t *testing.T) {
	var want []string
	add := func(prefix string, n int) {
		for i := 1; i <= n; i++ {
			want = append(want, fmt.Sprintf("%s-%02d", prefix, i))
		}
	}
	add("C-TR", 14)
	add("T-TR", 15)
	add("C-IN", 18)
	add("T-IN", 8)
	add("C-BT", 3)
	add("C-MM", 6)
	add("C-IMG", 5)
	have := map[string]bool{}
	for _, r := range conformance.Rules() {
		have[r.ID] = true
	}
	for _, id := range want {
		if !have[id] {
			t.Errorf("contract rule %s has no conformance rule", id)
		}
	}
}
