package build

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Ways a build can run (Options.Via).
const (
	// ViaAuto assembles the image directly when the Dockerfile and the
	// options allow it, and uses BuildKit otherwise.
	ViaAuto = "auto"
	// ViaBuildKit always solves with BuildKit.
	ViaBuildKit = "buildkit"
	// ViaDirect assembles the image without BuildKit, or fails saying why
	// it cannot.
	ViaDirect = "direct"
)

// fallbackError says why a build cannot be assembled directly; with
// ViaAuto it sends the build to BuildKit.
type fallbackError struct{ reason string }

func (e *fallbackError) Error() string { return e.reason }

func fallback(format string, args ...any) error {
	return &fallbackError{reason: fmt.Sprintf(format, args...)}
}

// directPlan is a Dockerfile that direct assembly can build: one stage
// whose instructions run no code.
type directPlan struct {
	file     string // the Dockerfile's base name, for messages
	base     string // the FROM image, expanded; "" for scratch
	platform string
	cmds     []*dcmd
	lex      *shell.Lex
	args     map[string]string // build args, for the stage's ARGs
	metaArgs map[string]*string
}

// dcmd is one instruction of the stage, from BuildKit's Dockerfile parser.
type dcmd struct {
	name     string // lower case
	line     int
	original string
	args     []string
	json     bool
	flags    []string
}

func (c *dcmd) upper() string { return strings.ToUpper(c.name) }

// planDirect decides from the options and the Dockerfile alone whether
// direct assembly may run; the error (a *fallbackError) says why not.
func planDirect(opts Options, platforms []string, file string, src []byte) (*directPlan, error) {
	switch {
	case opts.Builder != "":
		return nil, fallback("--builder names a standalone buildkitd")
	case len(platforms) > 1:
		return nil, fallback("several platforms are built")
	case opts.Output != nil:
		return nil, fallback("--output writes a file")
	case opts.Push != nil:
		return nil, fallback("--push pushes the image")
	case len(opts.CacheFrom) > 0 || len(opts.CacheTo) > 0:
		return nil, fallback("--cache-from or --cache-to names a BuildKit cache")
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, syntaxError(file, err)
	}
	escape := res.EscapeToken
	if escape == 0 {
		escape = '\\'
	}
	p := &directPlan{
		file:     file,
		platform: platforms[0],
		lex:      shell.NewLex(escape),
		args:     map[string]string{},
		metaArgs: map[string]*string{},
	}
	for k, v := range opts.BuildArgs {
		p.args[k] = v
	}
	if opts.SourceDateEpoch != nil {
		p.args["SOURCE_DATE_EPOCH"] = fmt.Sprint(opts.SourceDateEpoch.Unix())
	}
	meta := envGetter(platformArgs(p.platform))
	stages := 0
	for _, n := range res.AST.Children {
		c := &dcmd{name: strings.ToLower(n.Value), line: n.StartLine, original: n.Original, flags: n.Flags}
		if v, ok := n.Attributes["json"]; ok && v {
			c.json = true
		}
		for a := n.Next; a != nil; a = a.Next {
			c.args = append(c.args, a.Value)
		}
		if len(n.Heredocs) > 0 {
			return nil, fallback("%s:%d has a heredoc", file, c.line)
		}
		if c.name == "from" {
			stages++
			if stages > 1 {
				return nil, fallback("%s has more than one stage", file)
			}
			if len(c.flags) > 0 {
				return nil, fallback("%s:%d: FROM %s", file, c.line, strings.Join(c.flags, " "))
			}
			if len(c.args) == 0 {
				return nil, &SyntaxError{File: file, Line: c.line, Msg: "FROM requires an image name (FROM scratch for an empty image)"}
			}
			base, _, err := p.lex.ProcessWord(c.args[0], meta)
			if err != nil {
				return nil, fallback("expanding FROM %s: %v", c.args[0], err)
			}
			if !strings.EqualFold(base, "scratch") {
				p.base = base
			}
			continue
		}
		if stages == 0 {
			if c.name != "arg" {
				return nil, &SyntaxError{File: file, Line: c.line, Msg: c.upper() + " before the first FROM"}
			}
			// Meta ARGs are the defaults of FROM and of stage ARGs that
			// name them.
			for _, a := range c.args {
				k, v, hasValue := strings.Cut(a, "=")
				if bv, ok := p.args[k]; ok {
					meta[k] = bv
				} else if hasValue {
					v, _, err := p.lex.ProcessWord(v, meta)
					if err != nil {
						return nil, fallback("expanding ARG %s: %v", k, err)
					}
					meta[k] = v
				}
				if v, ok := meta[k]; ok {
					p.metaArgs[k] = &v
				} else {
					p.metaArgs[k] = nil
				}
			}
			continue
		}
		if err := directSupported(c); err != nil {
			return nil, fallback("%s:%d: %v", file, c.line, err)
		}
		p.cmds = append(p.cmds, c)
	}
	if stages == 0 {
		return nil, &SyntaxError{File: file, Msg: "no FROM instruction: a Dockerfile starts with FROM (FROM scratch for an empty image)"}
	}
	return p, nil
}

// directSupported accepts the instructions that run no code, and COPY or
// ADD of build context files without flags.
func directSupported(c *dcmd) error {
	switch c.name {
	case "arg", "env", "label", "workdir", "user", "expose", "entrypoint", "cmd", "stopsignal", "volume", "shell":
		if len(c.flags) > 0 {
			return fmt.Errorf("%s %s", c.upper(), strings.Join(c.flags, " "))
		}
		return nil
	case "copy", "add":
		for _, f := range c.flags {
			if _, ok := chmodFlag(f); !ok || c.name != "copy" {
				return fmt.Errorf("%s %s", c.upper(), f)
			}
		}
		if len(c.args) < 2 {
			return fmt.Errorf("%s needs a source and a destination", c.upper())
		}
		for _, s := range c.args[:len(c.args)-1] {
			if isURL(s) {
				return fmt.Errorf("%s of a URL", c.upper())
			}
		}
		return nil
	case "run":
		return errors.New("RUN runs a command in a container")
	}
	return fmt.Errorf("%s is left to BuildKit", c.upper())
}

// chmodFlag parses COPY's --chmod=OCTAL, the only flag direct assembly
// takes (the Engine's frontend knows no symbolic modes).
func chmodFlag(f string) (os.FileMode, bool) {
	v, ok := strings.CutPrefix(f, "--chmod=")
	if !ok || len(v) < 3 || len(v) > 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil {
		return 0, false
	}
	return os.FileMode(n), true
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "git@", "git://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func platformArgs(platform string) map[string]string {
	os, arch, _ := strings.Cut(platform, "/")
	return map[string]string{
		"TARGETPLATFORM": platform, "TARGETOS": os, "TARGETARCH": arch, "TARGETVARIANT": "",
		"BUILDPLATFORM": platform, "BUILDOS": os, "BUILDARCH": arch, "BUILDVARIANT": "",
	}
}

// stageState is the image config as the stage's instructions change it,
// with the ARGs that expand their words.
type stageState struct {
	cfg    v1.Config
	cmdSet bool
	args   map[string]string
}

// env is what a word expands against: ENV wins over ARG, as in BuildKit.
func (s *stageState) env() envGetter {
	e := envGetter{}
	for k, v := range s.args {
		e[k] = v
	}
	for _, kv := range s.cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	return e
}

func (s *stageState) setEnv(k, v string) {
	for i, kv := range s.cfg.Env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			s.cfg.Env[i] = k + "=" + v
			return
		}
	}
	s.cfg.Env = append(s.cfg.Env, k+"="+v)
}

// word expands one word against the stage's variables.
func (p *directPlan) word(s *stageState, c *dcmd, w string) (string, error) {
	out, _, err := p.lex.ProcessWord(w, s.env())
	if err != nil {
		return "", fallback("%s:%d: expanding %q: %v", p.file, c.line, w, err)
	}
	return out, nil
}

func (p *directPlan) words(s *stageState, c *dcmd, ws []string) ([]string, error) {
	out := make([]string, len(ws))
	for i, w := range ws {
		var err error
		if out[i], err = p.word(s, c, w); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kvs expands the key, value, delimiter triples of ENV and LABEL.
func (p *directPlan) kvs(s *stageState, c *dcmd) ([][2]string, error) {
	if len(c.args)%3 != 0 {
		return nil, fallback("%s:%d: %s arguments", p.file, c.line, c.upper())
	}
	var out [][2]string
	for i := 0; i < len(c.args); i += 3 {
		k, err := p.word(s, c, c.args[i])
		if err != nil {
			return nil, err
		}
		v, err := p.word(s, c, c.args[i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// apply changes the config for one instruction that makes no layer.
func (p *directPlan) apply(s *stageState, c *dcmd) error {
	switch c.name {
	case "arg":
		for _, a := range c.args {
			k, dv, hasValue := strings.Cut(a, "=")
			k, err := p.word(s, c, k)
			if err != nil {
				return err
			}
			v, given := p.args[k]
			switch {
			case given:
			case hasValue:
				if v, err = p.word(s, c, dv); err != nil {
					return err
				}
			default:
				if m, ok := p.metaArgs[k]; ok && m != nil {
					v = *m
				} else if pv, ok := platformArgs(p.platform)[k]; ok {
					v = pv
				}
			}
			s.args[k] = v
		}
	case "env":
		kvs, err := p.kvs(s, c)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			s.setEnv(kv[0], kv[1])
		}
	case "label":
		kvs, err := p.kvs(s, c)
		if err != nil {
			return err
		}
		if s.cfg.Labels == nil {
			s.cfg.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			s.cfg.Labels[kv[0]] = kv[1]
		}
	case "user":
		u, err := p.word(s, c, strings.Join(c.args, " "))
		if err != nil {
			return err
		}
		s.cfg.User = u
	case "expose":
		if s.cfg.ExposedPorts == nil {
			s.cfg.ExposedPorts = map[string]struct{}{}
		}
		ports, err := p.words(s, c, c.args)
		if err != nil {
			return err
		}
		for _, port := range ports {
			num, proto, ok := strings.Cut(port, "/")
			if !ok {
				proto = "tcp"
			}
			if strings.ContainsAny(num, "-:") || num == "" {
				return fallback("%s:%d: EXPOSE %s (a range or an address)", p.file, c.line, port)
			}
			s.cfg.ExposedPorts[num+"/"+strings.ToLower(proto)] = struct{}{}
		}
	case "entrypoint":
		s.cfg.Entrypoint = p.cmdline(s, c)
		if !s.cmdSet {
			s.cfg.Cmd = nil
		}
	case "cmd":
		s.cfg.Cmd = p.cmdline(s, c)
		s.cmdSet = true
	case "stopsignal":
		sig, err := p.word(s, c, strings.Join(c.args, " "))
		if err != nil {
			return err
		}
		s.cfg.StopSignal = sig
	case "volume":
		vols, err := p.words(s, c, c.args)
		if err != nil {
			return err
		}
		if s.cfg.Volumes == nil {
			s.cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			if v == "" {
				return fallback("%s:%d: VOLUME with an empty path", p.file, c.line)
			}
			s.cfg.Volumes[v] = struct{}{}
		}
	case "shell":
		if !c.json {
			return fallback("%s:%d: SHELL takes a JSON array", p.file, c.line)
		}
		s.cfg.Shell = slices.Clone(c.args)
	default:
		return fallback("%s:%d: %s", p.file, c.line, c.upper())
	}
	return nil
}

func (p *directPlan) cmdline(s *stageState, c *dcmd) []string {
	if c.json {
		return slices.Clone(c.args)
	}
	sh := s.cfg.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(sh), strings.Join(c.args, " "))
}

// dockerignore reads the context's .dockerignore, as the Engine's
// Dockerfile frontend does (it reads no Dockerfile-specific ignore file).
func readDockerignore(contextDir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(contextDir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	return readIgnore(b)
}

// absDest makes a COPY destination absolute against the working
// directory, keeping a trailing slash, as BuildKit does.
func absDest(workdir, dest string) string {
	slash := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "."
	if !path.IsAbs(dest) {
		if workdir == "" {
			workdir = "/"
		}
		dest = path.Join(workdir, dest)
	}
	dest = path.Clean(dest)
	if slash && dest != "/" {
		dest += "/"
	}
	return dest
}
