// Command gendocs writes sagekit's CLI reference into a docs directory and
// the rule reference into its conformance.md:
// go run ./internal/clidoc/gendocs docs (make docs).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sagekit/sagekit/cli"
	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/internal/clidoc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DOCS_DIR")
		os.Exit(2)
	}
	if err := clidoc.Write(cli.NewRoot(), os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
	if err := writeRules(filepath.Join(os.Args[1], "conformance.md")); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// writeRules regenerates the rule reference in the conformance page.
func writeRules(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the conformance page: %w", err)
	}
	doc, err = conformance.UpdateDocs(doc)
	if err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, doc, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
