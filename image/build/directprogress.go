package build

import (
	"context"
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

// directProgress reports the steps of a direct assembly as BuildKit
// status updates, so the same display draws both kinds of build.
type directProgress struct {
	ch   chan *bkclient.SolveStatus
	wg   sync.WaitGroup
	err  error
	seq  int
	prev digest.Digest
}

func newDirectProgress(ctx context.Context, fn ProgressFunc, desc string) *directProgress {
	p := &directProgress{}
	if fn == nil {
		return p
	}
	p.ch = make(chan *bkclient.SolveStatus)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.err = fn(context.WithoutCancel(ctx), desc, p.ch)
		for range p.ch {
		}
	}()
	return p
}

// start announces a step and returns the function that ends it.
func (p *directProgress) start(name string) func(cached bool, err error) {
	if p.ch == nil {
		return func(bool, error) {}
	}
	p.seq++
	dg := digest.FromString(time.Now().String() + name)
	now := time.Now()
	v := &bkclient.Vertex{Digest: dg, Name: name, Started: &now}
	if p.prev != "" {
		v.Inputs = []digest.Digest{p.prev}
	}
	p.prev = dg
	p.ch <- &bkclient.SolveStatus{Vertexes: []*bkclient.Vertex{v}}
	return func(cached bool, err error) {
		end := time.Now()
		w := *v
		w.Completed = &end
		w.Cached = cached
		if err != nil {
			w.Error = err.Error()
		}
		p.ch <- &bkclient.SolveStatus{Vertexes: []*bkclient.Vertex{&w}}
	}
}

// close ends the display and returns its error.
func (p *directProgress) close() error {
	if p.ch == nil {
		return nil
	}
	close(p.ch)
	p.wg.Wait()
	return p.err
}
