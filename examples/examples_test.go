package examples

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sagekit/sagekit/templates"
)

var update = flag.Bool("update", false, "rewrite the example directories from the templates")

// ignored are paths a local run of an example creates (docker run -v
// "$PWD/local:/opt/ml" ... train, or sagekit run train -o out).
func ignored(rel string) bool {
	for _, p := range []string{"local/model/", "local/output/", "local/checkpoints/", "out/"} {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

// TestExamplesMatchTemplates keeps each example identical to what
// `sagekit init` writes for it: same files, contents and modes.
func TestExamplesMatchTemplates(t *testing.T) {
	for _, ex := range all() {
		t.Run(ex.Dir, func(t *testing.T) {
			files, err := templates.Render(ex.Template, ex.Options)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := templates.Write(ex.Dir, files, templates.WithForce(true)); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{}
			for _, f := range files {
				want[f.Path] = kind(f.Mode) + string(f.Data)
			}
			got := map[string]string{}
			err = filepath.WalkDir(ex.Dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(ex.Dir, p)
				rel = filepath.ToSlash(rel)
				if ignored(rel) {
					return nil
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				got[rel] = kind(info.Mode()) + string(b)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("examples/%s differs from `sagekit init --template %s` (-template +example); run go test ./examples -run TestExamplesMatchTemplates -update:\n%s", ex.Dir, ex.Template, diff)
			}
		})
	}
}

// kind is what git keeps of a file's mode: executable or not.
func kind(m fs.FileMode) string {
	if m&0o111 != 0 {
		return "(executable)\n"
	}
	return "(regular)\n"
}
