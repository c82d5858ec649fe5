package sdkmod

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Module is the module path of sagekit and of the SDK inside it.
const Module = "github.com/sagekit/sagekit"

// ErrNotCarried means this sagekit binary carries no copy of its module
// (it was built without `make build` and runs outside the source).
var ErrNotCarried = errors.New("this sagekit binary carries no copy of the SDK module: build sagekit with `make build`, or pass --sdk DIR (a sagekit source checkout) to sagekit init")

// Requirement is a module outside sagekit that the packages under sdk/
// import, at the version sagekit's go.mod selects.
type Requirement struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

// SDK is one version of the sagekit module as a module proxy serves it.
type SDK struct {
	// Version is the module version: the release tag the binary was built
	// from, or a pseudo-version of its commit.
	Version string
	// Zip is the module zip: each file under Module@Version/.
	Zip []byte
	// Mod is the module's go.mod.
	Mod []byte
	// Requires lists what a project importing sdk/... needs besides sagekit.
	Requires []Requirement
	// Sum holds the go.sum lines of the module and of Requires.
	Sum []string
}

// meta is what `make build` embeds next to the zip.
type meta struct {
	Version  string        `json:"version"`
	Requires []Requirement `json:"requires"`
	// RequireSums are the go.sum lines of Requires.
	RequireSums []string `json:"requireSums"`
}

var (
	loadMu sync.Mutex
	loaded *SDK
)

// Load returns the module this binary carries: the embedded copy, or, in a
// binary built without `make build`, a zip of the module source it runs in
// (made once per process). It returns ErrNotCarried when there is neither.
func Load(ctx context.Context) (*SDK, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != nil {
		return loaded, nil
	}
	var (
		s   *SDK
		err error
	)
	if Embedded {
		var m meta
		if err := json.Unmarshal(embeddedMeta, &m); err != nil {
			return nil, fmt.Errorf("reading the embedded SDK module: %w", err)
		}
		s, err = newSDK(m, embeddedZip)
	} else {
		root, ok := moduleRoot(ctx)
		if !ok {
			return nil, ErrNotCarried
		}
		s, err = FromSource(ctx, root)
	}
	if err != nil {
		return nil, err
	}
	loaded = s
	return s, nil
}

func newSDK(m meta, zipData []byte) (*SDK, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return nil, fmt.Errorf("reading the SDK module zip: %w", err)
	}
	prefix := Module + "@" + m.Version + "/"
	var names []string
	contents := map[string][]byte{}
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, prefix) {
			return nil, fmt.Errorf("reading the SDK module zip: %s lies outside %s", f.Name, prefix)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("reading %s from the SDK module zip: %w", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s from the SDK module zip: %w", f.Name, err)
		}
		names = append(names, f.Name)
		contents[f.Name] = b
	}
	mod, ok := contents[prefix+"go.mod"]
	if !ok {
		return nil, errors.New("reading the SDK module zip: it has no go.mod")
	}
	zipSum := hash1(names, contents)
	modSum := hash1([]string{"go.mod"}, map[string][]byte{"go.mod": mod})
	sum := append([]string{
		fmt.Sprintf("%s %s %s", Module, m.Version, zipSum),
		fmt.Sprintf("%s %s/go.mod %s", Module, m.Version, modSum),
	}, m.RequireSums...)
	sort.Strings(sum)
	return &SDK{Version: m.Version, Zip: zipData, Mod: mod, Requires: m.Requires, Sum: sum}, nil
}

// hash1 is the Go toolchain's "h1:" directory hash (golang.org/x/mod's
// dirhash.Hash1): the SHA-256 of the sorted lines "<sha256 hex>  <name>".
func hash1(names []string, contents map[string][]byte) string {
	names = append([]string(nil), names...)
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%x  %s\n", sha256.Sum256(contents[n]), n)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// WriteProxy lays the module out below dir as a module proxy for one
// module (GOPROXY's file:// protocol) and returns the GOPROXY entry.
func (s *SDK) WriteProxy(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", dir, err)
	}
	// The module path has no upper-case letters, so it needs no escaping.
	v := filepath.Join(abs, filepath.FromSlash(Module), "@v")
	if err := os.MkdirAll(v, 0o755); err != nil {
		return "", fmt.Errorf("writing the SDK module proxy: %w", err)
	}
	info, err := json.Marshal(struct{ Version string }{s.Version})
	if err != nil {
		return "", err
	}
	for name, b := range map[string][]byte{
		"list":              []byte(s.Version + "\n"),
		s.Version + ".info": info,
		s.Version + ".mod":  s.Mod,
		s.Version + ".zip":  s.Zip,
	} {
		if err := os.WriteFile(filepath.Join(v, name), b, 0o644); err != nil {
			return "", fmt.Errorf("writing the SDK module proxy: %w", err)
		}
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// GoEnv returns environ with the Go variables that let the go command
// fetch the module from proxyURL (made by WriteProxy) first and everything
// else as the user's settings say: GOPROXY gets proxyURL in front,
// GONOSUMDB gets the module (the checksum database knows no unpublished
// version; go.sum records the checksums as for any module), and GOFLAGS
// gets -mod=mod (when modMod is set) unless it names a -mod already or a
// go.work is in use (workspace mode refuses it), so a go.sum that lacks
// the module's lines is completed rather than refused. goenv holds the
// user's values of GOPROXY, GONOSUMDB, GOFLAGS and GOWORK (as UserGoEnv
// returns them).
func GoEnv(environ []string, goenv map[string]string, proxyURL string, modMod bool) []string {
	proxy := goenv["GOPROXY"]
	if proxy == "" {
		proxy = "https://proxy.golang.org,direct"
	}
	nosumdb := Module
	if v := goenv["GONOSUMDB"]; v != "" {
		nosumdb = v + "," + Module
	}
	out := append([]string(nil), environ...)
	out = append(out, "GOPROXY="+proxyURL+","+proxy, "GONOSUMDB="+nosumdb)
	if work := goenv["GOWORK"]; work != "" && work != "off" {
		modMod = false
	}
	if flags := goenv["GOFLAGS"]; modMod && !strings.Contains(flags, "-mod=") {
		out = append(out, "GOFLAGS="+strings.TrimSpace(flags+" -mod=mod"))
	}
	return out
}
