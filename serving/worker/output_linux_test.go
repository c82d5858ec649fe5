//go:build linux

package worker

import (
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
)

// TestFollow: what two processes print reaches the writer line by line,
// never mixed: a last line that lacks its newline gets one, and a line
// longer than a piece may come in pieces, each a line, but all of it comes;
// the wait group ends once both have exited.
func TestFollow(t *testing.T) {
	var out testenv.SyncBuffer
	var wg sync.WaitGroup
	long := strings.Repeat("x", 3*maxPiece+5)
	scripts := []string{
		`i=0; while [ $i -lt 2000 ]; do echo "first $i abcdefghijklmnopqrstuvwxyz"; i=$((i+1)); done; printf 'first end'`,
		`i=0; while [ $i -lt 2000 ]; do echo "second $i abcdefghijklmnopqrstuvwxyz"; i=$((i+1)); done; head -c $LONG /dev/zero | tr '\000' x; echo`,
	}
	for _, sc := range scripts {
		r, w, err := newOutputPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/bin/sh", "-c", sc)
		cmd.Env = []string{"LONG=" + strconv.Itoa(len(long)), "PATH=/usr/bin:/bin"}
		cmd.Stdout = w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		wg.Add(1)
		follow(r, &out, &wg)
		defer cmd.Wait()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the streams were not followed to their end")
	}
	got := out.String()
	counts := map[string]int{}
	xs := 0
	for _, line := range strings.Split(got, "\n") {
		switch {
		case line == "" || line == "first end":
		case strings.Trim(line, "x") == "":
			xs += len(line)
		case strings.HasPrefix(line, "first ") && strings.HasSuffix(line, " abcdefghijklmnopqrstuvwxyz"):
			counts["first"]++
		case strings.HasPrefix(line, "second ") && strings.HasSuffix(line, " abcdefghijklmnopqrstuvwxyz"):
			counts["second"]++
		default:
			t.Fatalf("a line was torn or mixed: %.120q", line)
		}
	}
	if counts["first"] != 2000 || counts["second"] != 2000 {
		t.Errorf("lines: %v, want 2000 of each", counts)
	}
	if !strings.Contains(got, "first end") {
		t.Error("the unfinished last line was lost")
	}
	if xs != len(long) {
		t.Errorf("the long line brought %d bytes, want %d", xs, len(long))
	}
}

// TestFollowIdle: a line written after the drainer has backed off to its
// slowest poll still arrives.
func TestFollowIdle(t *testing.T) {
	var out testenv.SyncBuffer
	var wg sync.WaitGroup
	r, w, err := newOutputPipe()
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	follow(r, &out, &wg)
	time.Sleep(3 * drainSlow) // the drainer backs off to its slowest
	t0 := time.Now()
	w.WriteString("late line\n")
	for {
		s := out.String()
		if s == "late line\n" {
			break
		}
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("output %q, want the line", s)
		}
		time.Sleep(time.Millisecond)
	}
	w.Close()
	wg.Wait()
}
