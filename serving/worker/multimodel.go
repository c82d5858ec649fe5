package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sagekit/sagekit/sdk/serve"
)

var _ serve.MultiModelHandler = (*Pool)(nil)

// Multi-model endpoints: the pool speaks the same API to its workers that
// SageMaker speaks to the container (POST /models, DELETE /models/{name},
// POST /models/{name}/invoke). A model is loaded on one worker when
// SageMaker loads it, and on each other worker the first time a request
// for it reaches that worker; an unload reaches every worker that has it
// before it returns.

// LoadModel loads the model in dir on a worker; the worker's error status
// (507 when out of memory) is the answer's.
func (p *Pool) LoadModel(ctx context.Context, name, dir string) error {
	p.mmu.Lock()
	if p.urls == nil {
		p.urls = make(map[string]string)
	}
	p.urls[name] = dir
	p.mmu.Unlock()
	pr, err := p.acquire(ctx, nil)
	if err == nil {
		if err = p.loadOn(ctx, pr, name, dir); err == nil {
			p.release(pr)
		}
	}
	if err != nil {
		p.mmu.Lock()
		delete(p.urls, name)
		p.mmu.Unlock()
	}
	return err
}

// loadOn loads a model on pr, which the caller holds. On an error that is
// not the worker's answer, pr is no longer the caller's.
func (p *Pool) loadOn(ctx context.Context, pr *proc, name, dir string) error {
	body, _ := json.Marshal(map[string]string{"model_name": name, "url": dir})
	resp, err := pr.roundTrip(ctx, http.MethodPost, "/models", &serve.Request{Body: body, ContentType: "application/json"}, 1<<20)
	if err != nil {
		return p.failed(ctx, pr, err)
	}
	if resp.Status/100 != 2 {
		p.release(pr)
		return &serve.Error{Status: resp.Status, Message: fmt.Sprintf("worker %d: %s", pr.id, strings.TrimSpace(string(resp.Body)))}
	}
	if pr.models == nil {
		pr.models = make(map[string]struct{})
	}
	pr.models[name] = struct{}{}
	return nil
}

// InvokeModel sends req to a worker's POST /models/{name}/invoke, loading
// the model on that worker first if it has not yet.
func (p *Pool) InvokeModel(ctx context.Context, name string, req *serve.Request) (*serve.Response, error) {
	p.mmu.Lock()
	dir, ok := p.urls[name]
	p.mmu.Unlock()
	if !ok {
		return nil, serve.Errorf(http.StatusNotFound, "model %q is not loaded", name)
	}
	pr, ctx, cancel, err := p.acquireFor(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if _, ok := pr.models[name]; !ok {
		if err := p.loadOn(ctx, pr, name, dir); err != nil {
			return nil, err
		}
	}
	return p.forward(ctx, pr, "/models/"+url.PathEscape(name)+"/invoke", req)
}

// UnloadModel unloads the model from every worker that has it, waiting for
// busy ones, and returns once all have freed it.
func (p *Pool) UnloadModel(ctx context.Context, name string) error {
	p.mmu.Lock()
	delete(p.urls, name)
	p.mmu.Unlock()
	p.mu.Lock()
	procs := make([]*proc, 0, len(p.live))
	for pr := range p.live {
		procs = append(procs, pr)
	}
	p.mu.Unlock()
	var errs []error
	for _, want := range procs {
		pr, err := p.acquire(ctx, want)
		if errors.Is(err, errWorkerGone) {
			continue // a new process starts with nothing loaded
		}
		if err != nil {
			return fmt.Errorf("waiting for worker %d to unload %q: %w", want.id, name, err)
		}
		if _, ok := pr.models[name]; !ok {
			p.release(pr)
			continue
		}
		resp, err := pr.roundTrip(ctx, http.MethodDelete, "/models/"+url.PathEscape(name), nil, 1<<20)
		if err != nil {
			ferr := p.failed(ctx, pr, err)
			if ctx.Err() != nil {
				return ferr
			}
			continue // the process is killed, and the model with it
		}
		delete(pr.models, name)
		p.release(pr)
		if resp.Status/100 != 2 && resp.Status != http.StatusNotFound {
			errs = append(errs, &serve.Error{Status: resp.Status, Message: fmt.Sprintf("worker %d: %s", pr.id, strings.TrimSpace(string(resp.Body)))})
		}
	}
	return errors.Join(errs...)
}
