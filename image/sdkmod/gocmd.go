package sdkmod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// UserGoEnv returns the user's GOPROXY, GONOSUMDB, GOFLAGS and GOWORK as
// the go command in dir sees them (environment, then go env's file; GOWORK
// names the go.work in use, "" for none).
func UserGoEnv(ctx context.Context, dir string, environ []string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOPROXY", "GONOSUMDB", "GOFLAGS", "GOWORK")
	cmd.Dir = dir
	cmd.Env = environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("running go env: the go command is not installed: install Go from https://go.dev/dl/")
	}
	if err != nil {
		return nil, fmt.Errorf("running go env: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	m := map[string]string{}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("reading go env's output: %w", err)
	}
	return m, nil
}

// Download puts the module into the Go module cache, where `go build` and
// `go test` find it with no proxy at all.
func (s *SDK) Download(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "sagekit-sdk-proxy-")
	if err != nil {
		return fmt.Errorf("adding the SDK to the Go module cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	url, err := s.WriteProxy(tmp)
	if err != nil {
		return err
	}
	goenv, err := UserGoEnv(ctx, tmp, os.Environ())
	if err != nil {
		return err
	}
	// Outside any module, so the user's go.mod and go.sum stay as they are.
	cmd := exec.CommandContext(ctx, "go", "mod", "download", Module+"@"+s.Version)
	cmd.Dir = tmp
	cmd.Env = GoEnv(os.Environ(), goenv, url, false)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("adding %s@%s to the Go module cache: %w\n%s", Module, s.Version, err, strings.TrimSpace(string(out)))
	}
	return nil
}
