package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/sagekit/sagekit/image/sdkmod"
)

// sdkGoEnv returns the environment for compiling the Go algorithm in dir:
// when its go.mod requires sagekit, the copy of the module this binary
// carries is offered to the go command as a module proxy in front of the
// user's own (see sdkmod). cleanup removes that proxy.
func sdkGoEnv(ctx context.Context, dir string) (env []string, cleanup func(), err error) {
	env, cleanup = os.Environ(), func() {}
	if requiredSDK(dir) == "" {
		return env, cleanup, nil
	}
	s, err := sdkmod.Load(ctx)
	if errors.Is(err, sdkmod.ErrNotCarried) {
		return env, cleanup, nil // the go command may still find it; sdkHint explains a failure
	}
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "sagekit-sdk-proxy-")
	if err != nil {
		return nil, nil, fmt.Errorf("offering the SDK module to the go command: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	url, err := s.WriteProxy(tmp)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	goenv, err := sdkmod.UserGoEnv(ctx, dir, env)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("building the Go algorithm: %w", err)
	}
	return sdkmod.GoEnv(env, goenv, url, true), cleanup, nil
}

var sdkRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(sdkmod.Module) + `\s+(v\S+)`)

// requiredSDK returns the sagekit version dir's go.mod requires, or "".
func requiredSDK(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	if m := sdkRequire.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// sdkHint says how to fix a Go build whose output names the sagekit
// module; "" when it does not.
func sdkHint(ctx context.Context, dir string, out []byte) string {
	if !bytes.Contains(out, []byte(sdkmod.Module)) {
		return ""
	}
	want := requiredSDK(dir)
	s, err := sdkmod.Load(ctx)
	switch {
	case err != nil:
		return "\n" + err.Error()
	case want != "" && want != s.Version:
		return fmt.Sprintf("\ngo.mod requires %s %s, and this sagekit carries %s: run `go mod edit -require=%s@%s` (or `go get` the version you want once it is published)",
			sdkmod.Module, want, s.Version, sdkmod.Module, s.Version)
	}
	return ""
}
