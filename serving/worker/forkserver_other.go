//go:build !unix

package worker

import (
	"context"
	"errors"
)

// Fork servers need unix sockets that carry file descriptors.
type forkServer struct{ p *Pool }

func (fs *forkServer) spawn(ctx context.Context, i int, sock string, extra []string) (*proc, error) {
	return nil, errors.New("worker fork servers need a unix system")
}

func (fs *forkServer) close(ctx context.Context) {}

func (fs *forkServer) abort() {}
