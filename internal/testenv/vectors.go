package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// VectorsInContract checks what docs/contract.md says of a set of toolkit
// vectors ("inference" or "training") against the vector file: at least
// 150 of them, a row "| N kind | ... | N of N (100%) |" in its table, and
// the number of them marked with a deviation.
func VectorsInContract(t testing.TB, kind string, n, deviating int) {
	t.Helper()
	contract, err := os.ReadFile(filepath.Join(ModuleRoot(t), "docs", "contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n < 150 {
		t.Errorf("%d %s vectors, want at least 150", n, kind)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) ` + kind + ` \|.*\| (\d+) of (\d+) \(100%\) \|$`).FindSubmatch(contract)
	if row == nil || string(row[1]) != fmt.Sprint(n) || string(row[2]) != fmt.Sprint(n) || string(row[3]) != fmt.Sprint(n) {
		t.Errorf("docs/contract.md's vectors table has no row \"| %d %s | ... | %d of %d (100%%) |\" (found %q)", n, kind, n, n, row)
	}
	text := strings.Join(strings.Fields(string(contract)), " ")
	m := regexp.MustCompile(`except for the (\d+) inference and (\d+) training vectors marked with a deviation`).FindStringSubmatch(text)
	i := map[string]int{"inference": 1, "training": 2}[kind]
	if m == nil || i == 0 || m[i] != fmt.Sprint(deviating) {
		t.Errorf("docs/contract.md does not say that %d %s vectors are marked with a deviation (found %q)", deviating, kind, m)
	}
}
