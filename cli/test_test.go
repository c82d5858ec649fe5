package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
)

// runTestCmd runs "sagekit test args..." as cli.Execute would and returns
// the exit code, stdout and stderr.
func runTestCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := NewRoot()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(append([]string{"test"}, args...))
	code := 0
	if err := root.ExecuteContext(t.Context()); err != nil {
		code = reportError(root, err)
	}
	return code, stdout.String(), stderr.String()
}

func TestTestList(t *testing.T) {
	code, out, _ := runTestCmd(t, "--list")
	if code != 0 {
		t.Fatalf("sagekit test --list exited %d", code)
	}
	for _, r := range conformance.Rules() {
		if !strings.Contains(out, r.ID+" ") {
			t.Errorf("--list does not show %s", r.ID)
		}
	}
}

func TestTestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no image", nil, "accepts 1 arg"},
		{"payload without type", []string{"img", "--payload", "x"}, "--payload needs --content-type"},
		{"bad data", []string{"img", "--data", "train"}, "want CHANNEL=DIR"},
		{"bad hyperparameter", []string{"img", "--hyperparameter", "epochs"}, "want KEY=VALUE"},
		{"unknown rule", []string{"img", "--rules", "C-XX-01"}, `unknown rule "C-XX-01"`},
		{"bad toolkit", []string{"img", "--toolkit", "serving"}, "want training or inference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runTestCmd(t, tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("sagekit test %v = %d, stderr %q; want non-zero and %q", tt.args, code, stderr, tt.want)
			}
		})
	}
}

// TestTestExitCodes runs the command on a good and a broken fixture image:
// 0 and 1, with JUnit and JSON reports written.
func TestTestExitCodes(t *testing.T) {
	dc := testenv.Docker(t)
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	for _, tt := range []struct {
		brk  string
		want int
	}{{fixtures.Good, 0}, {"C-IN-10", 1}, {"C-IN-14", 0}} {
		t.Run("fixture-"+tt.brk, func(t *testing.T) {
			t.Parallel()
			ref, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{Break: tt.brk}, bin, "sagekit-cli-test")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{}) })
			dir := t.TempDir()
			junit, js, page := filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
			if tt.brk == fixtures.Good {
				js = "-" // the JSON report on stdout, the table on stderr
			}
			// Only hosting rules, to keep the test short; C-IN-14 is a
			// should-rule, whose failure does not fail the run.
			code, out, stderr := runTestCmd(t, ref, "-q", "--rules", "C-IN", "--skip", "C-IN-13", "--junit", junit, "--json", js, "--html", page, "--startup-timeout", "20s")
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.want, out, stderr)
			}
			b, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			var suites conformance.JUnitSuites
			if err := xml.Unmarshal(b, &suites); err != nil {
				t.Errorf("JUnit does not parse: %v", err)
			}
			timed := 0
			for _, c := range suites.Suites[0].Cases {
				if c.Failure == nil && c.Skipped == nil && c.Time > 0 {
					timed++
				}
			}
			if timed == 0 {
				t.Errorf("no passed testcase has a time in the JUnit report:\n%s", b)
			}
			if js == "-" {
				b = []byte(out)
				if !strings.Contains(stderr, "RULE") {
					t.Errorf("with --json - the table goes to stderr; stderr:\n%s", stderr)
				}
			} else if b, err = os.ReadFile(js); err != nil {
				t.Fatal(err)
			}
			var rep conformance.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Errorf("JSON does not parse: %v\n%s", err, b)
			}
			if len(rep.Phases) == 0 {
				t.Errorf("the JSON report has no phases")
			}
			h, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(h), `<h2 id="C-IN">`) || !strings.Contains(string(h), "<td class=\"id\">serve</td>") {
				t.Errorf("the HTML report lacks the C-IN section or the serve phase")
			}
			if rep.Passed() != (tt.want == 0) {
				t.Errorf("JSON report passed = %v, want %v", rep.Passed(), tt.want == 0)
			}
		})
	}
}
