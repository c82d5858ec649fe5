package split

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func labels(n int, classes ...string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = classes[i%len(classes)]
	}
	return out
}

func TestKFoldPartitionsDeterministically(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, k   int
		strata []string
	}{
		{"plain", 23, 5, nil},
		{"stratified", 30, 5, labels(30, "a", "b", "c")},
		{"leave one out", 7, 7, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan{Folds: tc.k, Seed: 42, Strata: tc.strata}
			folds, err := Make(tc.n, p)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Make(tc.n, p)
			if !cmp.Equal(folds, again) {
				t.Error("the same plan gave different folds")
			}
			other, _ := Make(tc.n, Plan{Folds: tc.k, Seed: 43, Strata: tc.strata})
			if tc.k < tc.n && cmp.Equal(folds, other) {
				t.Error("seeds 42 and 43 gave the same folds")
			}
			seen := map[int]int{}
			for _, f := range folds {
				if len(f.Val) < tc.n/tc.k || len(f.Val) > tc.n/tc.k+1 {
					t.Errorf("fold %d holds %d rows, want %d or %d", f.Index, len(f.Val), tc.n/tc.k, tc.n/tc.k+1)
				}
				if len(f.Train)+len(f.Val) != tc.n {
					t.Errorf("fold %d: %d + %d rows, want %d", f.Index, len(f.Train), len(f.Val), tc.n)
				}
				for _, r := range f.Val {
					seen[r]++
					if slices.Contains(f.Train, r) {
						t.Errorf("fold %d: row %d both trains and validates", f.Index, r)
					}
				}
				if tc.strata != nil {
					count := map[string]int{}
					for _, r := range f.Val {
						count[tc.strata[r]]++
					}
					for c, n := range count {
						if n != len(f.Val)/3 {
							t.Errorf("fold %d: %d rows of %s in %d, want a third", f.Index, n, c, len(f.Val))
						}
					}
				}
			}
			for r := range tc.n {
				if seen[r] != 1 {
					t.Errorf("row %d validated %d times, want once", r, seen[r])
				}
			}
		})
	}
}

func TestHoldout(t *testing.T) {
	st := append(labels(80, "a"), labels(20, "b")...)
	folds, err := Make(100, Plan{Holdout: 0.25, Seed: 1, Strata: st})
	if err != nil {
		t.Fatal(err)
	}
	if len(folds) != 1 || len(folds[0].Val) != 25 || len(folds[0].Train) != 75 {
		t.Fatalf("holdout 0.25 of 100 = %d folds, %d validation rows", len(folds), len(folds[0].Val))
	}
	b := 0
	for _, r := range folds[0].Val {
		if st[r] == "b" {
			b++
		}
	}
	if b != 5 {
		t.Errorf("stratified holdout has %d rows of b, want 5 (a quarter of 20)", b)
	}
}

func TestMakeErrors(t *testing.T) {
	for _, tc := range []struct {
		n    int
		p    Plan
		want string
	}{
		{5, Plan{Folds: 6}, "--folds 6 is more than the 5 rows of the data"},
		{5, Plan{Folds: 1}, "--folds 1: want 2 or more"},
		{5, Plan{Holdout: 1.5}, "--holdout 1.5"},
		{2, Plan{Holdout: 0.1}, "leaves 0 rows to validate"},
	} {
		if _, err := Make(tc.n, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Make(%d, %+v) = %v, want %q", tc.n, tc.p, err, tc.want)
		}
	}
}

func TestCheckClasses(t *testing.T) {
	lb := append(labels(20, "a", "b"), "rare")
	folds, _ := Make(len(lb), Plan{Folds: 3, Seed: 1, Strata: lb})
	err := CheckClasses(folds, lb)
	var mc *MissingClassError
	if !errors.As(err, &mc) || mc.Class != "rare" || mc.Rows != 1 {
		t.Fatalf("CheckClasses = %v, want class rare missing", err)
	}
	if !strings.Contains(err.Error(), "fold ") || !strings.Contains(err.Error(), `class "rare" has no rows in the`) {
		t.Errorf("error %q does not name the fold and the class", err)
	}
	lb = labels(21, "a", "b", "c")
	folds, _ = Make(len(lb), Plan{Folds: 3, Seed: 1, Strata: lb})
	if err := CheckClasses(folds, lb); err != nil {
		t.Errorf("stratified 3 classes of 7 in 3 folds: %v", err)
	}
}

func TestReadAndWrite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "a.csv"), []byte("species,x,y\nsetosa,1,2\n\"vers,icolor\",3,4\n"), 0o644)
	os.WriteFile(filepath.Join(data, "b.csv"), []byte("species,x,y\nsetosa,5,6\n"), 0o644)
	os.WriteFile(filepath.Join(data, ".hidden"), []byte("junk"), 0o644)
	if !HasHeaderRow(data, "species") || HasHeaderRow(data, "label") {
		t.Error("HasHeaderRow does not find the header by the label's name")
	}
	tb, err := Read(data, ReadOptions{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != 3 || tb.Origins[2].String() != filepath.Join(data, "b.csv")+" line 2" {
		t.Fatalf("Read = %d rows, origins %v", len(tb.Rows), tb.Origins)
	}
	col, err := tb.Column("y")
	if err != nil || col != 2 {
		t.Errorf("Column(y) = %d, %v", col, err)
	}
	if _, err := tb.Column("species "); err == nil || !strings.Contains(err.Error(), `label column "species " is missing: the header has species, x, y`) {
		t.Errorf("Column(missing) = %v", err)
	}
	f := Fold{Index: 1, Train: []int{0, 2}, Val: []int{1}}
	files, err := Write(filepath.Join(dir, "fold-1"), tb, 0, f)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(files.Training, "data.csv"):       "species,x,y\nsetosa,1,2\nsetosa,5,6\n",
		filepath.Join(files.Validation, "data.csv"):     "species,x,y\n\"vers,icolor\",3,4\n",
		filepath.Join(files.Transform, ValidationInput): "3,4\n",
		filepath.Join(files.Transform, TrainingInput):   "1,2\n5,6\n",
	} {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}

	noHeader := filepath.Join(dir, "plain.csv")
	os.WriteFile(noHeader, []byte("a,1\nb,2,3\n"), 0o644)
	if _, err := Read(noHeader, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "line 2: 3 columns where") {
		t.Errorf("ragged rows: %v", err)
	}
	os.WriteFile(noHeader, []byte("a,1\nb,2\n"), 0o644)
	tb, _ = Read(noHeader, ReadOptions{})
	if _, err := tb.Column("label"); err == nil || !strings.Contains(err.Error(), "no header row") {
		t.Errorf("named column without header: %v", err)
	}
	if _, err := tb.Column("5"); err == nil || !strings.Contains(err.Error(), "label column 5 is missing: the data has 2 columns") {
		t.Errorf("index out of range: %v", err)
	}
}

// TestFoldsArePinned pins the held-out rows of a few plans: the same data,
// seed and split flags must give the same folds on any machine and with
// any later sagekit, or published results (docs/evaluate.md) could not be
// reproduced.
func TestFoldsArePinned(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		p    Plan
		want [][]int
	}{
		{"3 folds", 10, Plan{Folds: 3, Seed: 1}, [][]int{{1, 6, 8, 9}, {3, 4, 5}, {0, 2, 7}}},
		{"3 folds stratified", 9, Plan{Folds: 3, Seed: 7, Strata: []string{"a", "b", "c", "a", "b", "c", "a", "b", "c"}}, [][]int{{0, 1, 2}, {4, 5, 6}, {3, 7, 8}}},
		{"holdout", 8, Plan{Holdout: 0.25, Seed: 1}, [][]int{{3, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			folds, err := Make(tc.n, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]int
			for _, f := range folds {
				got = append(got, f.Val)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("held-out rows (-want +got):\n%s", d)
			}
		})
	}
}
