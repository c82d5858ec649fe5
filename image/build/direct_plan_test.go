package build

import (
	"errors"
	"strings"
	"testing"
)

// TestPlanDirect: which Dockerfiles and options direct assembly takes,
// and the reason it gives for the others.
func TestPlanDirect(t *testing.T) {
	one := []string{"linux/amd64"}
	tests := []struct {
		name       string
		dockerfile string
		opts       Options
		platforms  []string
		wantBase   string
		wantReason string // "" when direct assembly may run
	}{
		{name: "python template", dockerfile: "ARG BASE_IMAGE=sagekit/python:bookworm\nFROM ${BASE_IMAGE}\nARG TARGETARCH\nENV A=1\nLABEL k=v\nCOPY .sagekit/linux-${TARGETARCH}/sagekit-runtime /usr/local/bin/\nCOPY code/ /opt/program/\nWORKDIR /opt/program\nENTRYPOINT [\"/usr/local/bin/sagekit-runtime\"]\n", wantBase: "sagekit/python:bookworm"},
		{name: "scratch", dockerfile: "FROM scratch\nCOPY a /a\nUSER 1000\nEXPOSE 8080\nVOLUME /data\nSTOPSIGNAL SIGINT\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo hi\n"},
		{name: "build arg picks the base", dockerfile: "ARG B=x\nFROM ${B}\nCOPY a /a\n", opts: Options{BuildArgs: map[string]string{"B": "sagekit/base:bookworm"}}, wantBase: "sagekit/base:bookworm"},
		{name: "RUN", dockerfile: "FROM scratch\nCOPY a /a\nRUN true\n", wantReason: "Dockerfile:3: RUN runs a command in a container"},
		{name: "COPY --from", dockerfile: "FROM scratch\nCOPY --from=img /a /a\n", wantReason: "Dockerfile:2: COPY --from=img"},
		{name: "COPY --chmod octal", dockerfile: "FROM scratch\nCOPY --chmod=0755 a /a\n"},
		{name: "COPY --chmod symbolic", dockerfile: "FROM scratch\nCOPY --chmod=u+x a /a\n", wantReason: "Dockerfile:2: COPY --chmod=u+x"},
		{name: "COPY --chown", dockerfile: "FROM scratch\nCOPY --chown=1000 a /a\n", wantReason: "Dockerfile:2: COPY --chown=1000"},
		{name: "ADD --chmod", dockerfile: "FROM scratch\nADD --chmod=0755 a /a\n", wantReason: "Dockerfile:2: ADD --chmod=0755"},
		{name: "ADD URL", dockerfile: "FROM scratch\nADD https://example.com/a /a\n", wantReason: "Dockerfile:2: ADD of a URL"},
		{name: "HEALTHCHECK", dockerfile: "FROM scratch\nHEALTHCHECK CMD true\n", wantReason: "Dockerfile:2: HEALTHCHECK is left to BuildKit"},
		{name: "two stages", dockerfile: "FROM scratch AS a\nFROM a\n", wantReason: "Dockerfile has more than one stage"},
		{name: "FROM --platform", dockerfile: "FROM --platform=linux/arm64 scratch\n", wantReason: "Dockerfile:1: FROM --platform=linux/arm64"},
		{name: "several platforms", dockerfile: "FROM scratch\n", platforms: []string{"linux/amd64", "linux/arm64"}, wantReason: "several platforms are built"},
		{name: "output", dockerfile: "FROM scratch\n", opts: Options{Output: &Output{Type: OutputOCI, Dest: "x"}}, wantReason: "--output writes a file"},
		{name: "builder", dockerfile: "FROM scratch\n", opts: Options{Builder: "unix:///x"}, wantReason: "--builder names a standalone buildkitd"},
		{name: "cache import", dockerfile: "FROM scratch\n", opts: Options{CacheFrom: []Cache{{Type: "local"}}}, wantReason: "--cache-from or --cache-to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := tt.platforms
			if ps == nil {
				ps = one
			}
			p, err := planDirect(tt.opts, ps, "Dockerfile", []byte(tt.dockerfile))
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("planDirect: %v, want a plan", err)
				}
				if p.base != tt.wantBase {
					t.Errorf("base = %q, want %q", p.base, tt.wantBase)
				}
				return
			}
			var fb *fallbackError
			if !errors.As(err, &fb) || !strings.Contains(fb.reason, tt.wantReason) {
				t.Errorf("planDirect error = %v, want a fallback saying %q", err, tt.wantReason)
			}
		})
	}
}

// TestDirectConfig: the config instructions change the image config as
// BuildKit's Dockerfile frontend does.
func TestDirectConfig(t *testing.T) {
	src := "FROM scratch\nARG V=one\nENV PATH=/x:$PATH A=$V\nLABEL l=\"${V} two\"\nENTRYPOINT [\"/e\"]\nCMD run $A\nUSER u:g\nEXPOSE 80 53/UDP\n"
	p, err := planDirect(Options{}, []string{"linux/amd64"}, "Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := &stageState{args: map[string]string{}}
	s.cfg.Env = []string{defaultPath}
	s.cfg.Cmd = []string{"/bin/bash"}
	for _, c := range p.cmds {
		if err := p.apply(s, c); err != nil {
			t.Fatalf("%s: %v", c.original, err)
		}
	}
	if got, want := strings.Join(s.cfg.Env, " "), "PATH=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin A=one"; got != want {
		t.Errorf("Env = %q, want %q", got, want)
	}
	if s.cfg.Labels["l"] != "one two" {
		t.Errorf("Labels = %v, want l=one two", s.cfg.Labels)
	}
	if got := strings.Join(s.cfg.Entrypoint, " "); got != "/e" {
		t.Errorf("Entrypoint = %q", got)
	}
	// CMD's shell form is not expanded by the frontend: the shell does it.
	if got := strings.Join(s.cfg.Cmd, "|"); got != "/bin/sh|-c|run $A" {
		t.Errorf("Cmd = %q, want the shell form", got)
	}
	if s.cfg.User != "u:g" {
		t.Errorf("User = %q", s.cfg.User)
	}
	if _, ok := s.cfg.ExposedPorts["53/udp"]; !ok || len(s.cfg.ExposedPorts) != 2 {
		t.Errorf("ExposedPorts = %v, want 80/tcp and 53/udp", s.cfg.ExposedPorts)
	}
}

func TestAbsDest(t *testing.T) {
	tests := []struct{ workdir, dest, want string }{
		{"/", "/opt/program/", "/opt/program/"},
		{"/srv", "rel/", "/srv/rel/"},
		{"/srv", ".", "/srv/"},
		{"/srv/app", "../e/", "/srv/e/"},
		{"", "file", "/file"},
		{"/w", "/abs/file", "/abs/file"},
	}
	for _, tt := range tests {
		if got := absDest(tt.workdir, tt.dest); got != tt.want {
			t.Errorf("absDest(%q, %q) = %q, want %q", tt.workdir, tt.dest, got, tt.want)
		}
	}
}
