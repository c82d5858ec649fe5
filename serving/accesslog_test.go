package serving_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/serving"
)

// jsonLines parses what the server wrote to b, one JSON object a line.
func jsonLines(t *testing.T, b *testenv.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access-log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestAccessLogWriter: the hand-formatted line has the fields, names and
// values of the slog line of WithAccessLog, one Write call per request,
// and escapes what JSON needs escaped.
func TestAccessLogWriter(t *testing.T) {
	fast, slow := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	tsFast := start(t, noop, serving.WithAccessLogWriter(fast))
	tsSlow := start(t, noop, serving.WithAccessLog(slog.New(slog.NewJSONHandler(slow, nil))))
	for _, ts := range []string{tsFast.URL, tsSlow.URL} {
		readBody(t, post(t, ts+"/invocations", "text/csv", []byte("1,2\n"), "X-Amzn-SageMaker-Inference-Id", `id "7" <é>`))
		resp, err := http.Get(ts + "/no/such\"path")
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
	}
	got, want := jsonLines(t, fast), jsonLines(t, slow)
	if len(got) != 2 || fast.Writes() != 2 {
		t.Fatalf("%d lines in %d writes for 2 requests:\n%s", len(got), fast.Writes(), fast.String())
	}
	// Times, durations and client ports differ between the two servers.
	ignore := cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "time" || k == "ms" || k == "remote" })
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("WithAccessLogWriter lines differ from WithAccessLog's (-slog +writer):\n%s", diff)
	}
	for _, m := range got {
		if _, ok := m["ms"].(float64); !ok {
			t.Errorf("ms = %#v, want a number", m["ms"])
		}
		if s, _ := m["remote"].(string); !strings.HasPrefix(s, "127.0.0.1:") {
			t.Errorf("remote = %#v, want the client's address", m["remote"])
		}
	}
	if got[0]["inference_id"] != `id "7" <é>` || got[0]["status"] != 200.0 || got[1]["status"] != 404.0 {
		t.Errorf("lines = %v", got)
	}
}
