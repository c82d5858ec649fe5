package owner

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRemoveDeadTemps: a directory whose owner died is removed; this
// process's own, one of another prefix and one without an owner record
// stay.
func TestRemoveDeadTemps(t *testing.T) {
	if Self().NS == "" || Self().Start == "" {
		t.Skip("no /proc to tell owners apart")
	}
	dir := t.TempDir()
	mine, err := MkdirTemp(dir, ".sagekit-train-")
	if err != nil {
		t.Fatal(err)
	}
	// A process that has exited owns the next one: its start time is read
	// while it runs, then it is killed and reaped.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	start, err := startTime(pid)
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, ".sagekit-train-dead")
	b, _ := json.Marshal(map[string]string{LabelPID: strconv.Itoa(pid), LabelStart: start, LabelNS: Self().NS})
	if err := os.MkdirAll(filepath.Join(dead, "output"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead, ownerFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "keep-dead")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, ownerFile), b, 0o644)
	unowned := filepath.Join(dir, ".sagekit-train-unowned")
	if err := os.MkdirAll(unowned, 0o755); err != nil {
		t.Fatal(err)
	}

	removed, err := RemoveDeadTemps(dir, ".sagekit-train-")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != dead {
		t.Errorf("removed %q, want only %s", removed, dead)
	}
	for _, p := range []string{mine, other, unowned} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("%s still there (%v)", dead, err)
	}
}
