package build

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// copyFrom is a COPY --from=X, X unexpanded; stage is the index of the
// stage the COPY is in.
type copyFrom struct {
	from  string
	stage int
}

// newerSyntax is a construct that Dockerfile frontends before 1.4
// (BuildKit v0.10) reject.
type newerSyntax struct {
	line int
	what string
}

// stage is one FROM of a Dockerfile.
type stage struct {
	base string // the FROM argument, unexpanded
	name string // the AS name, lower case
	line int
}

// dockerfile is what Run needs to know about a Dockerfile before solving.
type dockerfile struct {
	name     string
	stages   []stage
	copyFrom []copyFrom // COPY --from= values, which may name images
	newer    []newerSyntax
	metaArgs [][2]*string // ARGs before the first FROM: name, default (nil if none)
	escape   rune
}

// parseDockerfile parses src and reports a syntax error with its line.
func parseDockerfile(name string, src []byte) (*dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, syntaxError(name, err)
	}
	d := &dockerfile{name: name, escape: res.EscapeToken}
	if d.escape == 0 {
		d.escape = '\\'
	}
	for _, n := range res.AST.Children {
		cmd := strings.ToLower(n.Value)
		if _, ok := command.Commands[cmd]; !ok {
			return nil, &SyntaxError{File: name, Line: n.StartLine, Msg: fmt.Sprintf("unknown instruction: %s", strings.ToUpper(n.Value))}
		}
		switch cmd {
		case command.From:
			if n.Next == nil {
				return nil, &SyntaxError{File: name, Line: n.StartLine, Msg: "FROM requires an image name (FROM scratch for an empty image)"}
			}
			st := stage{base: n.Next.Value, line: n.StartLine}
			if as := n.Next.Next; as != nil {
				if !strings.EqualFold(as.Value, "as") || as.Next == nil || as.Next.Next != nil {
					return nil, &SyntaxError{File: name, Line: n.StartLine, Msg: "FROM takes an image and an optional `AS name`"}
				}
				st.name = strings.ToLower(as.Next.Value)
			}
			d.stages = append(d.stages, st)
		case command.Arg:
			if len(d.stages) > 0 {
				continue
			}
			for a := n.Next; a != nil; a = a.Next {
				k, v, ok := strings.Cut(a.Value, "=")
				if ok {
					d.metaArgs = append(d.metaArgs, [2]*string{&k, &v})
				} else {
					d.metaArgs = append(d.metaArgs, [2]*string{&k, nil})
				}
			}
		default:
			if len(n.Heredocs) > 0 {
				d.newer = append(d.newer, newerSyntax{n.StartLine, "a heredoc (<<EOF)"})
			}
			for _, fl := range n.Flags {
				if cmd == command.Copy && strings.HasPrefix(fl, "--from=") {
					d.copyFrom = append(d.copyFrom, copyFrom{from: strings.TrimPrefix(fl, "--from="), stage: len(d.stages) - 1})
				}
				if fl == "--link" || strings.HasPrefix(fl, "--link=") {
					d.newer = append(d.newer, newerSyntax{n.StartLine, strings.ToUpper(cmd) + " --link"})
				}
			}
			if len(d.stages) == 0 {
				return nil, &SyntaxError{File: name, Line: n.StartLine, Msg: fmt.Sprintf("%s before the first FROM: a Dockerfile starts with FROM (only ARG may come before it)", strings.ToUpper(n.Value))}
			}
		}
	}
	if len(d.stages) == 0 {
		return nil, &SyntaxError{File: name, Msg: "no FROM instruction: a Dockerfile starts with FROM (FROM scratch for an empty image)"}
	}
	return d, nil
}

func syntaxError(name string, err error) error {
	se := &SyntaxError{File: name, Msg: err.Error()}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		se.Line = le.Locations[0][0].Start.Line
		se.Msg = le.Unwrap().Error()
	}
	return se
}

// baseImages returns the images the stages start FROM for a platform,
// with ARGs expanded, leaving out scratch and earlier stages.
func (d *dockerfile) baseImages(buildArgs map[string]string, platform string) ([]string, error) {
	os, arch, _ := strings.Cut(platform, "/")
	env := map[string]string{
		"TARGETPLATFORM": platform, "TARGETOS": os, "TARGETARCH": arch,
		"BUILDPLATFORM": platform, "BUILDOS": os, "BUILDARCH": arch,
	}
	lex := shell.NewLex(d.escape)
	for _, a := range d.metaArgs {
		k := *a[0]
		if v, ok := buildArgs[k]; ok {
			env[k] = v
			continue
		}
		if a[1] != nil {
			v, _, err := lex.ProcessWord(*a[1], envGetter(env))
			if err != nil {
				return nil, fmt.Errorf("expanding ARG %s: %w", k, err)
			}
			env[k] = v
		}
	}
	earlier := map[string]bool{}
	seen := map[string]bool{}
	var out []string
	for i, s := range d.stages {
		img, _, err := lex.ProcessWord(s.base, envGetter(env))
		if err != nil {
			return nil, fmt.Errorf("expanding FROM %s: %w", s.base, err)
		}
		switch {
		case img == "" || strings.EqualFold(img, "scratch") || earlier[strings.ToLower(img)] || seen[img]:
		default:
			seen[img] = true
			out = append(out, img)
		}
		if s.name != "" {
			earlier[s.name] = true
		}
		for _, c := range d.copyFrom {
			if c.stage != i {
				continue
			}
			from, _, err := lex.ProcessWord(c.from, envGetter(env))
			if err != nil {
				return nil, fmt.Errorf("expanding COPY --from=%s: %w", c.from, err)
			}
			if _, err := strconv.Atoi(from); err == nil || from == "" || earlier[strings.ToLower(from)] || seen[from] {
				continue
			}
			seen[from] = true
			out = append(out, from)
		}
	}
	return out, nil
}

type envGetter map[string]string

func (e envGetter) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e envGetter) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	return keys
}

// dockerfilePath resolves opts.Dockerfile against the context directory.
func dockerfilePath(contextDir, dockerfile string) string {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if filepath.IsAbs(dockerfile) {
		return dockerfile
	}
	return filepath.Join(contextDir, dockerfile)
}

// checkOldFrontend reports the first construct an old Dockerfile frontend
// (before 1.4, as in Docker Engine 20.10) cannot parse, with its line.
func (d *dockerfile) checkOldFrontend() error {
	if len(d.newer) == 0 {
		return nil
	}
	n := d.newer[0]
	return &SyntaxError{File: d.name, Line: n.line, Msg: n.what + " needs Dockerfile syntax 1.4 (BuildKit v0.10, Docker Engine 23+), which this builder lacks: rewrite it (one RUN per command, COPY without --link) or use --builder with a newer buildkitd"}
}
