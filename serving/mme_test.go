package serving_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/serving"
)

// models is a multi-model handler that keeps names in memory and refuses
// to load one called "huge".
type models struct {
	mu     sync.Mutex
	loaded map[string]string
}

func (m *models) Load(ctx context.Context, dir string) error { return nil }

func (m *models) Invoke(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	return nil, serve.Errorf(http.StatusBadRequest, "use /models/{name}/invoke")
}

func (m *models) LoadModel(ctx context.Context, name, dir string) error {
	if name == "huge" {
		return fmt.Errorf("loading %s: %w", name, serve.ErrOutOfResources)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loaded[name] = dir
	return nil
}

func (m *models) UnloadModel(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.loaded, name)
	return nil
}

func (m *models) InvokeModel(ctx context.Context, name string, req *serve.Request) (*serve.Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &serve.Response{ContentType: "text/plain", Body: []byte(name + "@" + m.loaded[name] + ":" + string(req.Body))}, nil
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, readBody(t, resp)
}

func TestMultiModel(t *testing.T) {
	h := &models{loaded: map[string]string{}}
	ts := start(t, h, serving.WithMultiModel(true))
	load := func(name string) (int, string) {
		return do(t, "POST", ts.URL+"/models", fmt.Sprintf(`{"model_name":%q,"url":"/opt/ml/models/%s/model"}`, name, name))
	}
	for _, name := range []string{"c", "a", "b"} {
		if code, body := load(name); code != http.StatusOK {
			t.Fatalf("load %s = %d %s, want 200", name, code, body)
		}
	}
	if code, _ := load("a"); code != http.StatusConflict {
		t.Errorf("loading a loaded model = %d, want 409", code)
	}
	if code, body := load("huge"); code != http.StatusInsufficientStorage {
		t.Errorf("loading past the resources = %d %s, want 507", code, body)
	}
	if code, _ := do(t, "POST", ts.URL+"/models", `{"model_name":"x"}`); code != http.StatusBadRequest {
		t.Errorf("load without url = %d, want 400", code)
	}

	type info struct {
		ModelName string `json:"modelName"`
		ModelURL  string `json:"modelUrl"`
	}
	type page struct {
		Models        []info `json:"models"`
		NextPageToken string `json:"nextPageToken"`
	}
	list := func(query string) page {
		code, body := do(t, "GET", ts.URL+"/models"+query, "")
		if code != http.StatusOK {
			t.Fatalf("GET /models%s = %d %s", query, code, body)
		}
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("list body %q: %v", body, err)
		}
		return p
	}
	all := list("")
	want := []info{{"a", "/opt/ml/models/a/model"}, {"b", "/opt/ml/models/b/model"}, {"c", "/opt/ml/models/c/model"}}
	if diff := cmp.Diff(page{Models: want}, all); diff != "" {
		t.Errorf("GET /models (-want +got):\n%s", diff)
	}
	p1 := list("?max_results=2")
	if len(p1.Models) != 2 || p1.NextPageToken == "" {
		t.Fatalf("first page of 2 = %+v, want 2 models and a token", p1)
	}
	for _, param := range []string{"next_page_token", "nextPageToken"} {
		p2 := list("?max_results=2&" + param + "=" + p1.NextPageToken)
		if diff := cmp.Diff(page{Models: want[2:]}, p2); diff != "" {
			t.Errorf("second page with %s (-want +got):\n%s", param, diff)
		}
	}

	if code, body := do(t, "GET", ts.URL+"/models/b", ""); code != 200 || !strings.Contains(body, `"modelUrl":"/opt/ml/models/b/model"`) {
		t.Errorf("GET /models/b = %d %s", code, body)
	}
	if code, _ := do(t, "GET", ts.URL+"/models/zzz", ""); code != http.StatusNotFound {
		t.Errorf("GET unknown model = %d, want 404", code)
	}
	if code, body := do(t, "POST", ts.URL+"/models/b/invoke", "in"); code != 200 || body != "b@/opt/ml/models/b/model:in" {
		t.Errorf("invoke b = %d %q", code, body)
	}
	if code, _ := do(t, "POST", ts.URL+"/models/zzz/invoke", "in"); code != http.StatusNotFound {
		t.Errorf("invoke unknown model = %d, want 404", code)
	}
	if code, _ := do(t, "DELETE", ts.URL+"/models/b", ""); code != http.StatusOK {
		t.Errorf("unload b = %d, want 200", code)
	}
	h.mu.Lock()
	if _, ok := h.loaded["b"]; ok {
		t.Error("b still loaded in the handler after DELETE answered")
	}
	h.mu.Unlock()
	if code, _ := do(t, "DELETE", ts.URL+"/models/b", ""); code != http.StatusNotFound {
		t.Errorf("unload twice = %d, want 404", code)
	}
	if code, _ := do(t, "POST", ts.URL+"/models/b/invoke", "in"); code != http.StatusNotFound {
		t.Errorf("invoke unloaded model = %d, want 404", code)
	}
	if code, _ := load("b"); code != http.StatusOK {
		t.Errorf("loading again after unload = %d, want 200", code)
	}
}

func TestMultiModelNeedsHandler(t *testing.T) {
	s := serving.New(echoLen, serving.WithMultiModel(true))
	if err := s.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "MultiModelHandler") {
		t.Errorf("Load of a single-model handler in multi-model mode = %v, want an error naming MultiModelHandler", err)
	}
}

// TestModelNames: every name the load route accepts is found, invoked and
// unloaded by the same name, percent-encoded as one path segment; a name
// that cannot be one is refused at load with the rule.
func TestModelNames(t *testing.T) {
	h := &models{loaded: map[string]string{}}
	ts := start(t, h, serving.WithMultiModel(true))
	load := func(name string) (int, string) {
		b, _ := json.Marshal(map[string]string{"model_name": name, "url": "/opt/ml/models/m"})
		return do(t, "POST", ts.URL+"/models", string(b))
	}
	for _, name := range []string{"plain", "modèle-ü", "模型", "a b", "a%2Fb", "a%b", "a?b#c", "a+b;c", "x.tar.gz", "...", ".hidden", "-"} {
		t.Run("accepted/"+name, func(t *testing.T) {
			if code, body := load(name); code != http.StatusOK {
				t.Fatalf("load %q = %d %s, want 200", name, code, body)
			}
			path := ts.URL + "/models/" + url.PathEscape(name)
			code, body := do(t, "GET", path, "")
			var info struct {
				ModelName string `json:"modelName"`
			}
			json.Unmarshal([]byte(body), &info)
			if code != http.StatusOK || info.ModelName != name {
				t.Errorf("GET %s = %d %s, want 200 naming %q", path, code, body, name)
			}
			if code, body := do(t, "POST", path+"/invoke", "x"); code != http.StatusOK || body != name+"@/opt/ml/models/m:x" {
				t.Errorf("invoke %s = %d %q, want 200 from model %q", path, code, body, name)
			}
			if code, body := do(t, "DELETE", path, ""); code != http.StatusOK {
				t.Errorf("DELETE %s = %d %s, want 200", path, code, body)
			}
			if code, _ := do(t, "GET", path, ""); code != http.StatusNotFound {
				t.Errorf("GET %s after unloading = %d, want 404", path, code)
			}
		})
	}
	for _, name := range []string{"a/b", ".", "..", "../../etc", "/abs", `a\b`, "a\x00b", "line\nbreak", "tab\there", "del\x7f", strings.Repeat("m", 1025)} {
		t.Run(fmt.Sprintf("refused/%.20q", name), func(t *testing.T) {
			code, body := load(name)
			if code != http.StatusBadRequest || !strings.Contains(body, "a model name is 1 to 1024 bytes without") {
				t.Errorf("load %q = %d %s, want 400 stating the rule", name, code, body)
			}
		})
	}
	if _, body := do(t, "GET", ts.URL+"/models", ""); !strings.Contains(body, `"models":[]`) {
		t.Errorf("models left loaded: %s", body)
	}
}
