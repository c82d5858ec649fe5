package sdkmod

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// zipTime is every zip entry's modification time; the go command ignores
// it, and a fixed one makes the zip reproducible.
var zipTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// FromSource zips the module source at root (a git checkout): every file
// git tracks or would track (ignored files stay out), as the module proxy
// serves a commit. The version is the release tag at HEAD when the tree is
// clean and a tag vX.Y.Z points at it; otherwise a pseudo-version with
// HEAD's commit time and, for a clean tree, HEAD's hash, for a tree with
// changes a hash of its contents, so two different trees never share a
// version.
func FromSource(ctx context.Context, root string) (*SDK, error) {
	out, err := git(ctx, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	all := strings.Split(out, "\x00")
	// As in a module zip: no vendor directory, nothing of a nested module.
	nested := map[string]bool{}
	for _, n := range all {
		if d, f := path.Split(n); f == "go.mod" && d != "" {
			nested[d] = true
		}
	}
	inNested := func(n string) bool {
		for d := range nested {
			if strings.HasPrefix(n, d) {
				return true
			}
		}
		return strings.HasPrefix(n, "vendor/") || strings.Contains(n, "/vendor/")
	}
	seen := map[string]bool{}
	var names []string
	contents := map[string][]byte{}
	for _, n := range all {
		if n == "" || seen[n] || inNested(n) {
			continue
		}
		seen[n] = true
		p := filepath.Join(root, filepath.FromSlash(n))
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a link: not in a module zip
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		names = append(names, n)
		contents[n] = b
	}
	sort.Strings(names)
	if _, ok := contents["go.mod"]; !ok {
		return nil, fmt.Errorf("zipping the SDK module: %s has no go.mod", root)
	}
	status, err := git(ctx, root, "status", "--porcelain")
	if err != nil {
		return nil, err
	}
	content := sha256.New()
	for _, n := range names {
		fmt.Fprintf(content, "%x  %s\n", sha256.Sum256(contents[n]), n)
	}
	v, err := sourceVersion(ctx, root, strings.TrimSpace(status) != "", hex.EncodeToString(content.Sum(nil)))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := Module + "@" + v + "/"
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + n, Method: zip.Deflate, Modified: zipTime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(contents[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zipping the SDK module: %w", err)
	}
	reqs, sums, err := requirements(ctx, root)
	if err != nil {
		return nil, err
	}
	return newSDK(meta{Version: v, Requires: reqs, RequireSums: sums}, buf.Bytes())
}

var releaseTag = regexp.MustCompile(`^v[01]\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

func sourceVersion(ctx context.Context, root string, dirty bool, contentHash string) (string, error) {
	if !dirty {
		if tag, err := git(ctx, root, "describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD"); err == nil && releaseTag.MatchString(strings.TrimSpace(tag)) {
			return strings.TrimSpace(tag), nil
		}
	}
	when := time.Now()
	rev := contentHash[:12]
	if out, err := git(ctx, root, "show", "-s", "--format=%ct %H", "HEAD"); err == nil {
		ct, hash, _ := strings.Cut(strings.TrimSpace(out), " ")
		if n, err := strconv.ParseInt(ct, 10, 64); err == nil && len(hash) >= 12 {
			when = time.Unix(n, 0)
			if !dirty {
				rev = hash[:12]
			}
		}
	}
	prev := ""
	if tag, err := git(ctx, root, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD"); err == nil && releaseTag.MatchString(strings.TrimSpace(tag)) {
		prev = strings.TrimSpace(tag)
	}
	return PseudoVersion(prev, when, rev), nil
}

// PseudoVersion returns the Go pseudo-version of revision rev (12 hex
// digits) made at t, after the release tag prev ("" for none): as the go
// command names an untagged commit.
func PseudoVersion(prev string, t time.Time, rev string) string {
	ts := t.UTC().Format("20060102150405")
	switch {
	case prev == "":
		return "v0.0.0-" + ts + "-" + rev
	case strings.Contains(prev, "-"):
		return prev + ".0." + ts + "-" + rev
	}
	parts := strings.SplitN(strings.TrimPrefix(prev, "v"), ".", 3)
	patch, _ := strconv.Atoi(parts[2])
	return fmt.Sprintf("v%s.%s.%d-0.%s-%s", parts[0], parts[1], patch+1, ts, rev)
}

// requirements lists the modules outside sagekit that the packages under
// sdk/ import, with their go.sum lines from root's go.sum.
func requirements(ctx context.Context, root string) ([]Requirement, []string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "./sdk/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("listing what sdk/... imports: %w\n%s", err, stderr.Bytes())
	}
	seen := map[Requirement]bool{}
	var reqs []Requirement
	for _, line := range strings.Split(string(out), "\n") {
		p, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		r := Requirement{Path: p, Version: v}
		if !seen[r] {
			seen[r] = true
			reqs = append(reqs, r)
		}
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Path < reqs[j].Path })
	f, err := os.Open(filepath.Join(root, "go.sum"))
	if err != nil {
		return nil, nil, fmt.Errorf("reading go.sum: %w", err)
	}
	defer f.Close()
	want := map[string]bool{}
	for _, r := range reqs {
		want[r.Path+" "+r.Version] = true
		want[r.Path+" "+r.Version+"/go.mod"] = true
	}
	var sums []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && want[fields[0]+" "+fields[1]] {
			delete(want, fields[0]+" "+fields[1])
			sums = append(sums, strings.Join(fields, " "))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading go.sum: %w", err)
	}
	for k := range want {
		return nil, nil, fmt.Errorf("go.sum has no checksum for %s: run `go mod download` in %s", k, root)
	}
	return reqs, sums, nil
}

// WriteEmbed writes the files `make build` embeds (sdk.zip and sdk.json)
// into dir.
func (s *SDK) WriteEmbed(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(meta{Version: s.Version, Requires: s.Requires, RequireSums: s.RequireSums()}, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"sdk.zip": s.Zip, "sdk.json": b} {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// RequireSums returns the go.sum lines of s.Requires (Sum without the
// module's own lines).
func (s *SDK) RequireSums() []string {
	var out []string
	for _, l := range s.Sum {
		if !strings.HasPrefix(l, Module+" ") {
			out = append(out, l)
		}
	}
	return out
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running git %s in %s (the SDK module is made from a git checkout): %w: %s", args[0], dir, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// moduleRoot reports the root of the sagekit module when the current
// directory lies inside its source.
func moduleRoot(ctx context.Context) (string, bool) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}")
	out, err := cmd.Output()
	if err != nil {
		return "", false
	}
	path, root, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	return root, ok && path == Module
}
