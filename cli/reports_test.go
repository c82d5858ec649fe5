package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestReportFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.json")
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		wantTable string // "stdout" or "stderr"
		wantOut   string // on stdout
		wantFile  string // in file
	}{
		{name: "none", args: nil, wantTable: "stdout"},
		{name: "file", args: []string{"--json", file}, wantTable: "stdout", wantFile: "J"},
		{name: "stdout takes the report", args: []string{"--junit", "-", "--json", file}, wantTable: "stderr", wantOut: "X", wantFile: "J"},
		{name: "two on stdout", args: []string{"--junit", "-", "--html", "-"}, wantErr: "only one of --junit, --json and --html can write to stdout (-)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(file)
			var r reportFlags
			cmd := &cobra.Command{Use: "x"}
			r.add(cmd, "junit", "a JUnit XML report")
			r.add(cmd, "json", "a JSON report")
			r.add(cmd, "html", "an HTML report")
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			err := r.check()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("check() = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if got := r.table(&stdout, &stderr); (got == &stderr) != (tt.wantTable == "stderr") {
				t.Errorf("table() is not %s", tt.wantTable)
			}
			for name, body := range map[string]string{"junit": "X", "json": "J", "html": "H"} {
				if err := r.write(&stdout, name, func(w io.Writer) error { _, err := io.WriteString(w, body); return err }); err != nil {
					t.Fatal(err)
				}
			}
			if stdout.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.wantOut)
			}
			got, _ := os.ReadFile(file)
			if string(got) != tt.wantFile {
				t.Errorf("file = %q, want %q", got, tt.wantFile)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if h := cmd.Flags().Lookup("json").Usage; !strings.Contains(h, "- for stdout") {
				t.Errorf("--json help %q does not say - is stdout", h)
			}
		})
	}
}
