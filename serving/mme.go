package serving

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/gorilla/mux"
)

// registry is the multi-model endpoint's list of models, kept by the server
// so that 404 and 409 do not depend on the handler.
type registry struct {
	mu     sync.Mutex
	models map[string]*modelEntry
}

type modelEntry struct {
	URL    string
	loaded bool // false while LoadModel runs
}

// modelInfo is one model as the MME API describes it.
type modelInfo struct {
	ModelName string `json:"modelName"`
	ModelURL  string `json:"modelUrl"`
}

type loadRequest struct {
	ModelName string `json:"model_name"`
	URL       string `json:"url"`
}

// listPageSize is how many models one GET /models page holds.
const listPageSize = 100

func (s *Server) serveLoadModel(w http.ResponseWriter, r *http.Request) {
	if s.state.Load() != stateReady {
		writeError(w, http.StatusServiceUnavailable, "the server is not ready")
		return
	}
	var req loadRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "decoding the load request: "+err.Error()+`: send {"model_name": "...", "url": "..."}`)
		return
	}
	if req.ModelName == "" || req.URL == "" {
		writeError(w, http.StatusBadRequest, `the load request needs both "model_name" and "url"`)
		return
	}
	if err := checkModelName(req.ModelName); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.models.mu.Lock()
	if s.models.models == nil {
		s.models.models = make(map[string]*modelEntry)
	}
	if _, ok := s.models.models[req.ModelName]; ok {
		s.models.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("model %q is already loaded", req.ModelName))
		return
	}
	e := &modelEntry{URL: req.URL}
	s.models.models[req.ModelName] = e
	s.models.mu.Unlock()

	ctx, cancel := contextWithTimeout(r, s.o.startupTimeout)
	defer cancel()
	if err := s.mm.LoadModel(ctx, req.ModelName, req.URL); err != nil {
		s.models.mu.Lock()
		delete(s.models.models, req.ModelName)
		s.models.mu.Unlock()
		status, msg := statusOf(err)
		writeError(w, status, fmt.Sprintf("loading model %q: %s", req.ModelName, msg))
		return
	}
	s.models.mu.Lock()
	e.loaded = true
	s.models.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": fmt.Sprintf("model %q loaded", req.ModelName)})
}

func (s *Server) serveListModels(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("next_page_token")
	if token == "" {
		token = r.URL.Query().Get("nextPageToken")
	}
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			writeError(w, http.StatusBadRequest, "the page token is not one this server gave out")
			return
		}
		after = string(b)
	}
	size := listPageSize
	if v := r.URL.Query().Get("max_results"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < size {
			size = n
		}
	}
	s.models.mu.Lock()
	names := make([]string, 0, len(s.models.models))
	for name, e := range s.models.models {
		if e.loaded && name > after {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out struct {
		Models        []modelInfo `json:"models"`
		NextPageToken string      `json:"nextPageToken,omitempty"`
	}
	out.Models = []modelInfo{}
	for i, name := range names {
		if i == size {
			out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(names[i-1]))
			break
		}
		out.Models = append(out.Models, modelInfo{ModelName: name, ModelURL: s.models.models[name].URL})
	}
	s.models.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// maxModelName is the longest model name, in bytes: SageMaker's TargetModel
// is at most 1024 characters.
const maxModelName = 1024

// checkModelName refuses a name that could not be sent back in a path: every
// name accepted is invoked and unloaded as one percent-encoded path segment
// (/models/{name}), so it must be one, and one that clients and proxies
// leave alone ("." and ".." are resolved away before a request is sent).
func checkModelName(name string) error {
	bad := ""
	switch {
	case len(name) > maxModelName:
		bad = fmt.Sprintf("it is %d bytes long", len(name))
	case name == "." || name == "..":
		bad = "it is a relative path"
	case strings.ContainsAny(name, "/\\"):
		bad = "it contains a slash"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		bad = "it contains a control character"
	}
	if bad == "" {
		return nil
	}
	return fmt.Errorf("model name %q cannot be used: %s; a model name is 1 to %d bytes without \"/\", \"\\\" or control characters, and is not \".\" or \"..\"", name, bad, maxModelName)
}

// modelName is the {name} of a /models/{name} path, percent-decoded: the
// router matches the escaped path, so that %2F or %2E stay inside the one
// segment they were sent in.
func modelName(r *http.Request) (string, bool) {
	name, err := url.PathUnescape(mux.Vars(r)["name"])
	return name, err == nil
}

// loaded returns the URL of a loaded model.
func (s *Server) loaded(name string) (string, bool) {
	s.models.mu.Lock()
	defer s.models.mu.Unlock()
	e, ok := s.models.models[name]
	if !ok || !e.loaded {
		return "", false
	}
	return e.URL, true
}

func (s *Server) serveGetModel(w http.ResponseWriter, r *http.Request) {
	name, ok := modelName(r)
	u, ok2 := s.loaded(name)
	if !ok || !ok2 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q is not loaded", name))
		return
	}
	writeJSON(w, http.StatusOK, modelInfo{ModelName: name, ModelURL: u})
}

func (s *Server) serveUnloadModel(w http.ResponseWriter, r *http.Request) {
	name, ok := modelName(r)
	if _, loaded := s.loaded(name); !ok || !loaded {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q is not loaded", name))
		return
	}
	// Unloading frees resources before answering, as SageMaker expects.
	ctx, cancel := contextWithTimeout(r, s.o.timeout)
	defer cancel()
	if err := s.mm.UnloadModel(ctx, name); err != nil {
		status, msg := statusOf(err)
		writeError(w, status, fmt.Sprintf("unloading model %q: %s", name, msg))
		return
	}
	s.models.mu.Lock()
	delete(s.models.models, name)
	s.models.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": fmt.Sprintf("model %q unloaded", name)})
}

func (s *Server) serveInvokeModel(w http.ResponseWriter, r *http.Request) {
	name, ok := modelName(r)
	if _, loaded := s.loaded(name); !ok || !loaded {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q is not loaded", name))
		return
	}
	s.invoke(w, r, name)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
