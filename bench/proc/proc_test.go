package proc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGroup(t *testing.T) {
	dir := t.TempDir()
	g, err := StartGroup(Spec{
		Path: "/bin/sh",
		// The child moves to its own process group: Tree must still find it.
		Args: []string{"-c", "setsid sleep 30 & sleep 30"},
		Env:  os.Environ(),
		Log:  filepath.Join(dir, "log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for range 100 {
		if n = len(g.Tree()); n >= 3 {
			break
		}
		if done, how := g.Exited(); done {
			t.Fatal(how)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n < 3 {
		t.Errorf("Tree() found %d processes, want sh and two sleeps", n)
	}
	pss, procs, err := g.PSS()
	if err != nil || pss <= 0 || procs < 2 {
		t.Errorf("PSS() = %d bytes over %d processes, %v; want > 0 over 2 or more", pss, procs, err)
	}
	if alive := g.Kill(); len(alive) != 0 {
		t.Errorf("Kill() left %v alive", alive)
	}
}

func TestGroupCPU(t *testing.T) {
	g, err := StartGroup(Spec{
		Path: "/bin/sh",
		// A child that burns CPU for 2 s, then idles.
		Args: []string{"-c", "timeout 2 sh -c 'while :; do :; done'; sleep 30"},
		Env:  os.Environ(),
		Log:  filepath.Join(t.TempDir(), "log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Kill()
	time.Sleep(100 * time.Millisecond)
	var sh time.Duration
	for range 100 {
		// The busy loop runs in a child of timeout, named sh.
		if sh = g.CPU()["sh"]; sh >= 150*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sh < 150*time.Millisecond {
		t.Errorf("CPU()[sh] = %v during a 2 s busy loop, want at least 150ms (%v)", sh, g.CPU())
	}
	if c := g.CPU()["sleep"]; c > 50*time.Millisecond {
		t.Errorf("CPU()[sleep] = %v, want next to nothing", c)
	}
}
