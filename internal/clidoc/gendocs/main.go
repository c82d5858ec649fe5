// Command gendocs writes sagekit's CLI reference into a docs directory:
// go run ./internal/clidoc/gendocs docs (make docs).
package main

import (
	"fmt"
	"os"

	"github.com/sagekit/sagekit/cli"
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
}
