// Command mme is a test image's entrypoint: `serve` is a multi-model
// endpoint on sagekit's serving stack, each model a directory holding
// greeting.txt; invoking a model answers its greeting, the body and the
// host name of the container that answered.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sagekit/sagekit/sdk/app"
	"github.com/sagekit/sagekit/sdk/serve"
)

type handler struct {
	mu     sync.Mutex
	models map[string]string
}

var _ serve.MultiModelHandler = (*handler)(nil)

func (h *handler) Load(context.Context, string) error { return nil }

func (h *handler) Invoke(context.Context, *serve.Request) (*serve.Response, error) {
	return nil, &serve.Error{Status: 400, Message: "a multi-model endpoint: invoke a model"}
}

func (h *handler) LoadModel(_ context.Context, name, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "greeting.txt"))
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.models[name] = strings.TrimSpace(string(b))
	return nil
}

func (h *handler) UnloadModel(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.models, name)
	return nil
}

func (h *handler) InvokeModel(_ context.Context, name string, req *serve.Request) (*serve.Response, error) {
	h.mu.Lock()
	g, ok := h.models[name]
	h.mu.Unlock()
	if !ok {
		return nil, &serve.Error{Status: 404, Message: "model " + name + " is not loaded"}
	}
	host, _ := os.Hostname()
	return &serve.Response{ContentType: "text/plain", Body: fmt.Appendf(nil, "%s|%s|%s", g, strings.TrimSpace(string(req.Body)), host)}, nil
}

func main() {
	app.Main(app.Options{Handler: &handler{models: map[string]string{}}})
}
