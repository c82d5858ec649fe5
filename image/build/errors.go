package build

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors callers branch on. Each error Run returns for bad input
// wraps one of them and reads as one line saying what to do.
var (
	// ErrNoDockerfile: the Dockerfile does not exist.
	ErrNoDockerfile = errors.New("no Dockerfile")
	// ErrEngine: the Docker Engine cannot be reached.
	ErrEngine = errors.New("docker engine not reachable")
	// ErrBaseImage: a FROM image is not in the Engine's image store.
	ErrBaseImage = errors.New("base image not in the local image store")
	// ErrUnsupported: the builder cannot do what was asked.
	ErrUnsupported = errors.New("not supported by this builder")
)

// SyntaxError is a Dockerfile that does not parse.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// BaseImageError names a base image missing from the local store, or one
// held there for another platform.
type BaseImageError struct {
	Image    string
	Platform string // asked for
	Have     string // platform in the store, "" when missing
}

func (e *BaseImageError) Error() string {
	if e.Have != "" {
		return fmt.Sprintf("base image %s is %s in the local image store but %s was asked for: build it for %s or drop that platform", e.Image, e.Have, e.Platform, e.Platform)
	}
	return fmt.Sprintf("base image %s is not in the local image store: %s", e.Image, FixMissingImage(e.Image))
}

// FixMissingImage is the one command that puts ref into the Engine's
// image store: sagekit base for sagekit's own bases, else a pull.
func FixMissingImage(ref string) string {
	for _, key := range []string{"base", "python", "cuda"} {
		if ref == "sagekit/"+key+":bookworm" || ref == "sagekit/"+key {
			return "make it with `sudo sagekit base --only " + key + "`"
		}
	}
	return "pull it with `docker pull " + ref + "` (or `docker load -i FILE` where no registry is reachable)"
}

func (e *BaseImageError) Unwrap() error { return ErrBaseImage }

// parseErrorRE matches the builder's own Dockerfile parse errors.
var parseErrorRE = regexp.MustCompile(`dockerfile parse error (?:on )?line (\d+): (.*)$`)

// translate turns BuildKit's solve errors into one line saying what to do,
// for the failures users meet; others pass through.
func translate(err error, dockerfile, platform string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if m := parseErrorRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: dockerfile, Line: line, Msg: m[2]}
	}
	switch {
	case strings.Contains(msg, "unknown cache exporter"):
		return fmt.Errorf("%w: this BuildKit cannot export cache (the Docker Engine's BuildKit before Engine 23 has no local cache export): drop --cache-to, or use --builder with a standalone buildkitd", ErrUnsupported)
	case strings.Contains(msg, "unknown cache importer"):
		return fmt.Errorf("%w: this BuildKit cannot import that cache type: drop --cache-from", ErrUnsupported)
	case strings.Contains(msg, "exec format error"):
		return fmt.Errorf("a RUN step runs %s code this machine cannot execute (no emulation is installed): build %s on a machine of that architecture, or cross-compile on the host and COPY the result: %w", platform, platform, err)
	case strings.Contains(msg, "pull access denied"), strings.Contains(msg, "failed to resolve source metadata"),
		strings.Contains(msg, "failed to do request"), strings.Contains(msg, "dial tcp"):
		return fmt.Errorf("an image had to be pulled from a registry and none can be reached: use base images from the local store (`sagekit base`) and no `# syntax=` line: %w", err)
	}
	return err
}
