package owner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/testenv"
)

func TestDead(t *testing.T) {
	me := Labels()
	if me[LabelStart] == "" || me[LabelNS] == "" {
		t.Fatalf("Labels() = %v: want a start time and a namespace on Linux", me)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) map[string]string {
		l := map[string]string{LabelPID: me[LabelPID], LabelStart: me[LabelStart], LabelNS: me[LabelNS]}
		if v == "" {
			delete(l, k)
		} else {
			l[k] = v
		}
		return l
	}
	tests := []struct {
		name   string
		labels map[string]string
		dead   bool
	}{
		{"this process", me, false},
		{"an exited process", with(LabelPID, strconv.Itoa(gone.ProcessState.Pid())), true},
		{"a reused pid", with(LabelStart, "1"), true},
		{"another PID namespace", with(LabelNS, "other-boot/pid:[1]"), false},
		{"no start time", with(LabelStart, ""), false},
		{"no namespace", with(LabelNS, ""), false},
		{"a bad pid", with(LabelPID, "x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Dead(tt.labels); got != tt.dead {
				t.Errorf("Dead(%v) = %v, want %v", tt.labels, got, tt.dead)
			}
		})
	}
}

// TestStartTimeOfOddNames: the start time is found after the command name
// even when the name holds spaces and parentheses.
func TestStartTimeOfOddNames(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(t.TempDir(), "a) b (c")
	if err := os.WriteFile(odd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	st, err := startTime(cmd.Process.Pid)
	if _, perr := strconv.ParseUint(st, 10, 64); err != nil || perr != nil {
		t.Errorf("startTime = %q, %v; want a number", st, err)
	}
}

// TestReapNetworks: a network whose owner exited is removed; one owned by
// this live process, or by a process of another PID namespace, is kept.
func TestReapNetworks(t *testing.T) {
	dc := testenv.Docker(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	suffix := strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	mk := func(name string, labels map[string]string) string {
		t.Helper()
		name = "sagekit-owner-test-" + name + "-" + suffix
		if _, err := dc.NetworkCreate(t.Context(), name, client.NetworkCreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dc.NetworkRemove(context.Background(), name, client.NetworkRemoveOptions{}) })
		return name
	}
	me := Labels()
	dead := map[string]string{LabelPID: strconv.Itoa(gone.ProcessState.Pid()), LabelStart: me[LabelStart], LabelNS: me[LabelNS]}
	elsewhere := map[string]string{LabelPID: strconv.Itoa(gone.ProcessState.Pid()), LabelStart: "1", LabelNS: "another-boot/pid:[1]"}
	deadNet, liveNet, otherNet := mk("dead", dead), mk("live", me), mk("other", elsewhere)

	removed, err := Reap(t.Context(), dc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "network "+deadNet) {
		t.Errorf("Reap removed %v, want the network of the exited owner %s among them", removed, deadNet)
	}
	for _, name := range []string{liveNet, otherNet} {
		if slices.Contains(removed, "network "+name) {
			t.Errorf("Reap removed %s, whose owner it cannot call dead", name)
		}
		if _, err := dc.NetworkInspect(t.Context(), name, client.NetworkInspectOptions{}); err != nil {
			t.Errorf("network %s: %v, want it kept", name, err)
		}
	}
}
