package build

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBaseImages(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		args       map[string]string
		platform   string
		want       []string
	}{
		{"scratch", "FROM scratch\nCOPY a /a\n", nil, "linux/amd64", nil},
		{"plain", "FROM sagekit/base:bookworm\n", nil, "linux/amd64", []string{"sagekit/base:bookworm"}},
		{"meta arg default", "ARG BASE=sagekit/python:bookworm\nFROM $BASE\n", nil, "linux/amd64", []string{"sagekit/python:bookworm"}},
		{"build-arg wins", "ARG BASE=sagekit/python:bookworm\nFROM ${BASE}\n", map[string]string{"BASE": "x:1"}, "linux/amd64", []string{"x:1"}},
		{"target arch", "FROM img-${TARGETARCH}\n", nil, "linux/arm64", []string{"img-arm64"}},
		{"stages", "FROM sagekit/base:bookworm AS build\nFROM build AS second\nFROM scratch\nCOPY --from=second / /\nFROM Build\n", nil, "linux/amd64", []string{"sagekit/base:bookworm"}},
		{"stage named later is an image", "FROM later\nFROM scratch AS later\n", nil, "linux/amd64", []string{"later"}},
		{"lower-case from", "from sagekit/base:bookworm as b\n", nil, "linux/amd64", []string{"sagekit/base:bookworm"}},
		{"dedup", "FROM a\nFROM a\n", nil, "linux/amd64", []string{"a"}},
		{"copy from", "FROM scratch AS a\nCOPY --from=img:1 / /\nCOPY --from=a / /\nCOPY --from=0 / /\nCOPY --from=img-${TARGETARCH} / /\n", nil, "linux/arm64", []string{"img:1", "img-arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDockerfile("Dockerfile", []byte(tt.dockerfile))
			if err != nil {
				t.Fatalf("parseDockerfile: %v", err)
			}
			got, err := d.baseImages(tt.args, tt.platform)
			if err != nil {
				t.Fatalf("baseImages: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("baseImages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	tests := []struct {
		name, dockerfile string
		wantLine         int
		wantMsg          string
	}{
		{"unknown instruction", "FROM scratch\n\nCOPPY a b\n", 3, "unknown instruction: COPPY"},
		{"from without image", "FROM\n", 1, "FROM requires an image name (FROM scratch for an empty image)"},
		{"bad AS", "FROM a AS\n", 1, "FROM takes an image and an optional `AS name`"},
		{"instruction before FROM", "ARG X=1\nRUN true\nFROM scratch\n", 2, "RUN before the first FROM: a Dockerfile starts with FROM (only ARG may come before it)"},
		{"empty", "# only a comment\n", 1, "file with no instructions"},
		{"only ARG", "ARG A=1\n", 0, "no FROM instruction: a Dockerfile starts with FROM (FROM scratch for an empty image)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseDockerfile("Dockerfile", []byte(tt.dockerfile))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("parseDockerfile(%q) error = %v, want a *SyntaxError", tt.dockerfile, err)
			}
			if se.Line != tt.wantLine || se.Msg != tt.wantMsg {
				t.Errorf("parseDockerfile(%q) = line %d %q, want line %d %q", tt.dockerfile, se.Line, se.Msg, tt.wantLine, tt.wantMsg)
			}
		})
	}
}

func TestCheckNoSyntaxLine(t *testing.T) {
	tests := []struct {
		src  string
		want bool // an error
	}{
		{"# syntax=docker/dockerfile:1\nFROM scratch\n", true},
		{"#Syntax = docker/dockerfile:1.7\nFROM scratch\n", true},
		{"# escape=`\n# syntax=x\nFROM scratch\n", true},
		{"FROM scratch\n# syntax=x\n", false},
		{"# a comment\nFROM scratch\n", false},
	}
	for _, tt := range tests {
		err := checkNoSyntaxLine("Dockerfile", []byte(tt.src))
		if (err != nil) != tt.want {
			t.Errorf("checkNoSyntaxLine(%q) = %v, want error %v", tt.src, err, tt.want)
		}
	}
}

func FuzzParseDockerfile(f *testing.F) {
	f.Add("FROM scratch\nCOPY a /a\n")
	f.Add("ARG A=b\nFROM ${A} AS x\nFROM x\nRUN --mount=type=cache,target=/c true\n")
	f.Add("FROM\n")
	f.Fuzz(func(t *testing.T, src string) {
		d, err := parseDockerfile("Dockerfile", []byte(src))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("parseDockerfile error %v is not a *SyntaxError", err)
			}
			return
		}
		_, _ = d.baseImages(map[string]string{"A": "b"}, "linux/amd64")
	})
}

func TestCheckOldFrontend(t *testing.T) {
	tests := []struct {
		src      string
		wantLine int // 0: no error
	}{
		{"FROM scratch\nCOPY --chmod=0755 a /a\nRUN --mount=type=cache,target=/c true\n", 0},
		{"FROM scratch\nRUN <<EOF\ntrue\nEOF\n", 2},
		{"FROM scratch\nCOPY a /a\nCOPY --link b /b\n", 3},
	}
	for _, tt := range tests {
		d, err := parseDockerfile("Dockerfile", []byte(tt.src))
		if err != nil {
			t.Fatalf("parseDockerfile(%q): %v", tt.src, err)
		}
		err = d.checkOldFrontend()
		var se *SyntaxError
		switch {
		case tt.wantLine == 0 && err != nil:
			t.Errorf("checkOldFrontend(%q) = %v, want nil", tt.src, err)
		case tt.wantLine != 0 && (!errors.As(err, &se) || se.Line != tt.wantLine):
			t.Errorf("checkOldFrontend(%q) = %v, want an error on line %d", tt.src, err, tt.wantLine)
		}
	}
}
