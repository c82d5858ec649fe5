package conformance

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/owner"
)

// TestFactsContainerHasOwner: the never-started container the suite reads
// an image's files from carries this process's owner labels beside the
// run's, so a suite killed with SIGKILL before removing it has it removed
// by the next command's reaper.
func TestFactsContainerHasOwner(t *testing.T) {
	var mu sync.Mutex
	var got map[string]string
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/containers/create") {
			var body struct{ Labels map[string]string }
			json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			got = body.Labels
			mu.Unlock()
		}
		// Refuse everything: the test needs only the create request.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"message":"refused by the test"}`))
	}))
	defer engine.Close()
	dc, err := client.New(client.WithHost("tcp://"+strings.TrimPrefix(engine.URL, "http://")), client.WithVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if _, err := mergedFactsOf(t.Context(), dc, "img", map[string]string{LabelRun: "run-1"}); err == nil {
		t.Fatal("mergedFactsOf against an engine that refuses = nil error")
	}
	mu.Lock()
	defer mu.Unlock()
	if got == nil {
		t.Fatal("no container create request reached the engine")
	}
	want := owner.Labels()
	want[LabelRun] = "run-1"
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got[k], v, got)
		}
	}
}
