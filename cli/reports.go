package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// reportFlags are a command's report files (--json, --html, --junit): each
// takes FILE, or - for stdout, which then carries that report alone (the
// table goes to stderr). Commands that write reports register them here, so
// every report flag reads and writes the same way.
type reportFlags struct {
	names []string
	paths map[string]*string
}

// add registers --name, a flag writing what ("a JSON report").
func (r *reportFlags) add(cmd *cobra.Command, name, what string) {
	if r.paths == nil {
		r.paths = map[string]*string{}
	}
	p := new(string)
	cmd.Flags().StringVar(p, name, "", "write "+what+" to FILE (- for stdout; the table then goes to stderr)")
	r.names = append(r.names, name)
	r.paths[name] = p
}

// path is the value of --name ("" when not given).
func (r reportFlags) path(name string) string {
	if p := r.paths[name]; p != nil {
		return *p
	}
	return ""
}

// check allows stdout (-) for one report at most.
func (r reportFlags) check() error {
	var std []string
	for _, n := range r.names {
		if r.path(n) == "-" {
			std = append(std, n)
		}
	}
	if len(std) < 2 {
		return nil
	}
	flags := make([]string, len(r.names))
	for i, n := range r.names {
		flags[i] = "--" + n
	}
	list := strings.Join(flags[:len(flags)-1], ", ") + " and " + flags[len(flags)-1]
	return fmt.Errorf("only one of %s can write to stdout (-)", list)
}

// table is where the command's table goes: stderr when a report takes
// stdout.
func (r reportFlags) table(stdout, stderr io.Writer) io.Writer {
	for _, n := range r.names {
		if r.path(n) == "-" {
			return stderr
		}
	}
	return stdout
}

// write writes the report of --name with write, to stdout for -, else to
// its file through a temporary file renamed into place, so a reader never
// sees half a report. Nothing happens when the flag is not given.
func (r reportFlags) write(stdout io.Writer, name string, write func(io.Writer) error) error {
	switch path := r.path(name); path {
	case "":
		return nil
	case "-":
		return write(stdout)
	default:
		return writeFileAtomic(path, write)
	}
}

// writeFileAtomic writes path through a temporary file in its directory.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	err = write(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}
