package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openWhenThere opens path for reading once it exists, as a Pipe-mode
// program polls for the next epoch's FIFO.
func openWhenThere(t *testing.T, path string) *os.File {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFeedPipe(t *testing.T) {
	dir := t.TempDir()
	e := &Engine{log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	big := strings.Repeat("x", 1<<20)
	go func() {
		defer close(done)
		e.feedPipe(ctx, dir, "train", func(_ context.Context, epoch int, w io.Writer) error {
			if epoch == 1 {
				// More than a pipe holds: the reader stops early.
				_, err := io.WriteString(w, big)
				return err
			}
			_, err := fmt.Fprintf(w, "epoch %d\n", epoch)
			return err
		})
	}()
	f := openWhenThere(t, filepath.Join(dir, "train_0"))
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(b) != "epoch 0\n" {
		t.Fatalf("train_0 = %q, %v; want \"epoch 0\\n\"", b, err)
	}
	f = openWhenThere(t, filepath.Join(dir, "train_1"))
	head := make([]byte, 10)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f = openWhenThere(t, filepath.Join(dir, "train_2"))
	b, err = io.ReadAll(f)
	f.Close()
	if err != nil || string(b) != "epoch 2\n" {
		t.Fatalf("train_2 after an epoch closed early = %q, %v; want \"epoch 2\\n\"", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "train_0")); !os.IsNotExist(err) {
		t.Errorf("train_0 still there after its epoch: %v", err)
	}
	// Nobody reads train_3: ending ctx ends the feeder.
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("feedPipe did not return after ctx ended")
	}
}
