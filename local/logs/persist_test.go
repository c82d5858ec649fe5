package logs

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func messages(t *testing.T, s *Store, group, stream string) []string {
	t.Helper()
	out, e := s.GetLogEvents(EventsInput{LogGroupName: group, LogStreamName: stream, StartFromHead: true})
	if e != nil {
		t.Fatalf("GetLogEvents(%s, %s): %v", group, stream, e)
	}
	var msgs []string
	for _, ev := range out.(map[string]any)["events"].([]Event) {
		msgs = append(msgs, ev.Message)
	}
	return msgs
}

func TestOpenKeepsEventsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_000)
	s.PutText(GroupTraining, "job/algo-1-1700000000", at, []byte("epoch 1\nepoch 2\n"))
	w := s.Writer(GroupEndpoints+"ep", "AllTraffic/i-0123456789abcdef0")
	fmt.Fprint(w, "ready\nlast line without newline")
	w.Flush()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if d := cmp.Diff([]string{"epoch 1", "epoch 2"}, messages(t, again, GroupTraining, "job/algo-1-1700000000")); d != "" {
		t.Errorf("training stream after Open (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"ready", "last line without newline"}, messages(t, again, GroupEndpoints+"ep", "AllTraffic/i-0123456789abcdef0")); d != "" {
		t.Errorf("endpoint stream after Open (-want +got):\n%s", d)
	}
	// Events put after a restart follow the loaded ones, in memory and on
	// disk.
	again.Put(GroupTraining, "job/algo-1-1700000000", at, "epoch 3")
	third, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if d := cmp.Diff([]string{"epoch 1", "epoch 2", "epoch 3"}, messages(t, third, GroupTraining, "job/algo-1-1700000000")); d != "" {
		t.Errorf("training stream after a second Open (-want +got):\n%s", d)
	}
}

func TestOpenTrimsToMaxEvents(t *testing.T) {
	dir := t.TempDir()
	gdir := filepath.Join(dir, url.PathEscape(GroupTraining))
	if err := os.MkdirAll(gdir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(gdir, url.PathEscape("j/algo-1-1")+".jsonl")
	var b strings.Builder
	for i := range MaxEvents + 3 {
		fmt.Fprintf(&b, `{"timestamp":%d,"message":"%d","ingestionTime":%d}`+"\n", i, i, i)
	}
	b.WriteString(`{"timestamp":1,"mess`) // cut short by a crash
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := s.groups[GroupTraining].streams["j/algo-1-1"].events
	if len(evs) != MaxEvents || evs[0].Message != "3" || evs[len(evs)-1].Message != fmt.Sprint(MaxEvents+2) {
		t.Errorf("after Open: %d events from %q to %q, want %d from \"3\" to %q", len(evs), evs[0].Message, evs[len(evs)-1].Message, MaxEvents, fmt.Sprint(MaxEvents+2))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n != MaxEvents {
		t.Errorf("the stream file holds %d lines after Open, want %d", n, MaxEvents)
	}
}
