package evaluate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLimitParallel(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name              string
		asked, jobs, cpus int
		mem               int64
		want              int
		note              string
	}{
		{"default: the CPUs", 0, 10, 2, 24 * gib, 2, ""},
		{"default: the memory at 2 GiB a job", 0, 10, 16, 6 * gib, 3, ""},
		{"default: no more than the jobs", 0, 3, 16, 64 * gib, 3, ""},
		{"asked below the bound", 1, 10, 2, 24 * gib, 1, ""},
		{"asked above the CPUs", 8, 10, 2, 24 * gib, 2, "--parallel 8 lowered to 2: the engine has 2 CPUs and 24 GiB of memory"},
		{"asked above the memory", 8, 10, 16, 4 * gib, 2, "--parallel 8 lowered to 2: the engine has 16 CPUs and 4 GiB of memory"},
		{"asked above the jobs only", 10, 4, 16, 64 * gib, 4, ""},
		{"less memory than one job", 0, 5, 4, gib, 1, ""},
		{"engine size unknown", 0, 7, 0, 0, 7, ""},
		{"engine size unknown, asked", 3, 7, 0, 0, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, note := limitParallel(tc.asked, tc.jobs, tc.cpus, tc.mem)
			if got != tc.want || note != tc.note {
				t.Errorf("limitParallel(%d, %d, %d, %d) = %d, %q; want %d, %q", tc.asked, tc.jobs, tc.cpus, tc.mem, got, note, tc.want, tc.note)
			}
		})
	}
}

// fakeRunner serves folds in-process: it checks what each job is given,
// predicts the class from the feature column (even: a, odd: b) and records
// how many folds run at once.
type fakeRunner struct {
	limit int

	mu                    sync.Mutex
	asked, jobs           int
	inFlight, maxInFlight int
	names                 []string
	depth                 map[string]string // the job's "depth" hyperparameter
}

func (f *fakeRunner) Check(context.Context, []string) error { return nil }

func (f *fakeRunner) Parallel(_ context.Context, asked, jobs int) (int, string) {
	f.asked, f.jobs = asked, jobs
	return f.limit, fmt.Sprintf("--parallel %d lowered to %d: a test", asked, f.limit)
}

func (f *fakeRunner) Fold(ctx context.Context, j FoldJob, transforming func()) error {
	f.mu.Lock()
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.names = append(f.names, j.Name)
	f.depth[j.Name] = j.Hyperparameters["depth"]
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	time.Sleep(30 * time.Millisecond)
	// The training channel and the validation channel hold whole rows,
	// label included.
	if len(j.Channels) != 2 {
		return fmt.Errorf("channels %v, want training and validation", j.Channels)
	}
	for _, ch := range []string{"training", "validation"} {
		b, err := os.ReadFile(filepath.Join(j.Channels[ch], "data.csv"))
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if len(strings.Split(line, ",")) != 2 {
				return fmt.Errorf("channel %s row %q: want label and feature", ch, line)
			}
		}
	}
	transforming()
	ents, err := os.ReadDir(j.Input)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(j.Output, 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(j.Input, e.Name()))
		if err != nil {
			return err
		}
		var out strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			// The transform input has the label removed: one column.
			x, err := strconv.Atoi(line)
			if err != nil {
				return fmt.Errorf("transform input %s row %q: want the feature alone", e.Name(), line)
			}
			out.WriteString([]string{"a", "b"}[x%2] + "\n")
		}
		if err := os.WriteFile(filepath.Join(j.Output, e.Name()+".out"), []byte(out.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TestFoldsRunAtMostParallel runs an evaluation on an in-process runner:
// every fold of both models runs, never more at once than the runner's
// Parallel allows, and the predictions, sent without the label and
// shuffled by the split, are joined back to the right labels.
func TestFoldsRunAtMostParallel(t *testing.T) {
	var data strings.Builder
	for i := range 24 {
		fmt.Fprintf(&data, "%s,%d\n", []string{"a", "b"}[i%2], i)
	}
	fr := &fakeRunner{limit: 2, depth: map[string]string{}}
	var notes []string
	rep, err := RunOn(t.Context(), fr, Options{
		Image: "algo:1", Compare: "algo:1", CompareHyperparameters: map[string]string{"depth": "2"},
		Data: writeCSV(t, data.String()), Label: "0", Folds: 4, Seed: 5, Parallel: 5,
		OnEvent: func(e Event) {
			if e.Stage == StageNote {
				notes = append(notes, e.Err.Error())
			}
		},
	})
	if err != nil {
		t.Fatalf("RunOn: %v", err)
	}
	if fr.asked != 5 || fr.jobs != 8 {
		t.Errorf("Parallel(asked %d, jobs %d), want 5 and 8 (4 folds × 2 models)", fr.asked, fr.jobs)
	}
	if fr.maxInFlight != 2 {
		t.Errorf("%d folds ran at once, want 2 (the runner's limit)", fr.maxInFlight)
	}
	if !slices.Equal(notes, []string{"--parallel 5 lowered to 2: a test"}) {
		t.Errorf("notes %q, want the runner's", notes)
	}
	slices.Sort(fr.names)
	if want := []string{"fold-1-a", "fold-1-b", "fold-2-a", "fold-2-b", "fold-3-a", "fold-3-b", "fold-4-a", "fold-4-b"}; !slices.Equal(fr.names, want) {
		t.Errorf("jobs %v, want %v", fr.names, want)
	}
	// Two models of one image: B alone gets its hyperparameter.
	if fr.depth["fold-3-a"] != "" || fr.depth["fold-3-b"] != "2" {
		t.Errorf("depth of fold 3's jobs: a %q, b %q; want none and 2", fr.depth["fold-3-a"], fr.depth["fold-3-b"])
	}
	if len(rep.Models) != 2 || rep.Models[0].Name != "algo:1 (A)" || rep.Models[1].Name != "algo:1 (B)" || rep.Models[1].Hyperparameters["depth"] != "2" {
		t.Fatalf("%d models, want algo:1 (A) and algo:1 (B) with depth 2", len(rep.Models))
	}
	if len(rep.Comparison) == 0 || len(rep.Comparison[0].Folds) != 4 {
		t.Errorf("comparison %+v, want the paired test over 4 folds", rep.Comparison)
	}
	for _, m := range rep.Models {
		for _, f := range m.Folds {
			if !f.OK() || f.Validation["accuracy"] != 1 || f.Train["accuracy"] != 1 || len(f.Predictions) != 6 {
				t.Errorf("%s fold %d: error %q, accuracy %v (train %v), %d predictions; want 1, 1 and 6",
					m.Name, f.Fold, f.Error, f.Validation["accuracy"], f.Train["accuracy"], len(f.Predictions))
			}
		}
	}
}
