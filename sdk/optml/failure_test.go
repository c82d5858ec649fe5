package optml

import (
	"errors"
	"os"
	"sync"
	"testing"
)

func TestWriteFailure(t *testing.T) {
	p := At(t.TempDir())
	if err := p.WriteFailure("first"); err != nil {
		t.Fatalf("WriteFailure: %v", err)
	}
	if err := p.WriteFailure("second"); !errors.Is(err, ErrFailureExists) {
		t.Errorf("second WriteFailure error = %v, want ErrFailureExists", err)
	}
	b, _ := os.ReadFile(p.Failure())
	if string(b) != "first" {
		t.Errorf("failure file = %q, want %q", b, "first")
	}
	entries, _ := os.ReadDir(p.Output())
	if len(entries) != 1 {
		t.Errorf("output dir holds %d entries, want only the failure file", len(entries))
	}
}

func TestWriteFailureRace(t *testing.T) {
	p := At(t.TempDir())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.WriteFailure("reason") == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d writers won, want exactly 1", wins)
	}
}

func TestWriteSuccess(t *testing.T) {
	p := At(t.TempDir())
	if err := p.WriteSuccess(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p.Success()); err != nil || fi.Size() != 0 {
		t.Errorf("success file: %v, %v", fi, err)
	}
}
