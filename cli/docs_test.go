package cli

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/internal/clidoc"
	"github.com/sagekit/sagekit/internal/testenv"
)

// TestCLIReferenceCurrent fails when docs/cli or docs/exit-codes.md differ
// from what the commands generate: run `make docs` and commit.
func TestCLIReferenceCurrent(t *testing.T) {
	docs := filepath.Join(testenv.ModuleRoot(t), "docs")
	want := clidoc.Files(NewRoot())
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(docs, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("docs/%s: %v (run make docs)", name, err)
			continue
		}
		if d := cmp.Diff(string(b), string(got)); d != "" {
			t.Errorf("docs/%s is stale; run make docs (-generated +committed):\n%s", name, d)
		}
	}
	have, err := filepath.Glob(filepath.Join(docs, "cli", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, p := range have {
		if _, ok := want["cli/"+filepath.Base(p)]; !ok {
			extra = append(extra, filepath.Base(p))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("docs/cli has pages of no command: %v (run make docs)", extra)
	}
}

// TestExitCodesDocumented: every command says what exit code 1 means.
func TestExitCodesDocumented(t *testing.T) {
	walk(NewRoot(), func(c *cobra.Command) {
		if !c.IsAvailableCommand() || c.Annotations[annotationGroup] != "" {
			return
		}
		if c.Annotations[clidoc.AnnotationExit+"1"] == "" {
			t.Errorf("%s does not document exit code 1 (documentExit)", c.CommandPath())
		}
	})
}
