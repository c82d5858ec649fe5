package layout

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sagekit/sagekit"

// rule forbids packages under from (module-relative prefixes) to import
// packages under to, directly or through any other package of the module.
type rule struct {
	why  string
	from []string
	to   []string
}

var rules = []rule{
	{
		why:  "code that runs inside images stays small and knows nothing of the host",
		from: []string{"runtime/", "serving"},
		to:   []string{"cli", "image/", "platform", "local", "conformance", "remote", "evaluate", "templates", "bench", "examples", "internal/doctor", "internal/clidoc", "internal/testenv", "internal/evaltest"},
	},
	{
		why:  "the author SDK links into algorithm images: no CLI, no local platform, no host-side image code",
		from: []string{"sdk/"},
		to:   []string{"cli", "platform", "image/", "local", "conformance", "remote", "evaluate", "bench", "internal/testenv"},
	},
	{
		why:  "host-side image work is a library under the CLI, not above it",
		from: []string{"image/", "platform", "local", "conformance", "remote", "evaluate", "templates"},
		to:   []string{"cli", "bench"},
	},
	{
		why:  "benchmarks and test helpers are not product code",
		from: []string{"cli", "image/", "platform", "local", "conformance", "remote", "evaluate", "templates", "runtime/", "serving", "sdk/"},
		to:   []string{"bench", "internal/testenv", "internal/testmodel", "internal/evaltest", "internal/readme", "platform/platformtest", "platform/backendtest"},
	},
}

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages is `go list -json ./...` from the module root, the module's
// own packages only.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list: %v\n%s", err, ee.Stderr)
	}
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		pkgs[rel(p.ImportPath)] = p
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages: run from the module", len(pkgs))
	}
	return pkgs
}

// rel is p relative to the module ("" for a package outside it).
func rel(p string) string {
	if p == module {
		return "."
	}
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return ""
}

// under reports whether module-relative package p is one of prefixes: a
// prefix ending in "/" is a tree, any other names a package and its
// subpackages.
func under(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasSuffix(pre, "/") && strings.HasPrefix(p, pre) {
			return true
		}
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// path returns a chain of module packages from p to a package matching to,
// nil when there is none.
func path(pkgs map[string]pkg, p string, to []string, seen map[string]bool) []string {
	if seen[p] {
		return nil
	}
	seen[p] = true
	for _, imp := range pkgs[p].Imports {
		r := rel(imp)
		if r == "" {
			continue
		}
		if under(r, to) {
			return []string{p, r}
		}
		if rest := path(pkgs, r, to, seen); rest != nil {
			return append([]string{p}, rest...)
		}
	}
	return nil
}

func TestImportDirection(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		for p := range pkgs {
			// A package of the forbidden set may import its kin: test
			// helpers build on each other.
			if !under(p, r.from) || under(p, r.to) {
				continue
			}
			if chain := path(pkgs, p, r.to, map[string]bool{}); chain != nil {
				t.Errorf("%s reaches %s (%s): %s", p, chain[len(chain)-1], strings.Join(chain, " -> "), r.why)
			}
		}
	}
}

// TestRuleCatchesForbiddenImport feeds the check a made-up tree in which
// serving reaches platform through another package: it must be reported.
func TestRuleCatchesForbiddenImport(t *testing.T) {
	pkgs := map[string]pkg{
		"serving":       {Imports: []string{module + "/sdk/optml", module + "/runtime/s3get"}},
		"runtime/s3get": {Imports: []string{"net/http", module + "/platform"}},
		"platform":      {Imports: []string{module + "/image/engineload"}},
		"sdk/optml":     {},
	}
	chain := path(pkgs, "serving", rules[0].to, map[string]bool{})
	want := "serving -> runtime/s3get -> platform"
	if got := strings.Join(chain, " -> "); got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	if chain := path(pkgs, "sdk/optml", rules[1].to, map[string]bool{}); chain != nil {
		t.Errorf("sdk/optml imports nothing, path = %v", chain)
	}
}
