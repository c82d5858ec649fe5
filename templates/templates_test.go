package templates

import (
	"errors"
	"flag"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// variant is one rendering the golden files pin down.
type variant struct {
	name     string // testdata/<template>-<name>
	template string
	opts     Options
}

func variants() []variant {
	var vs []variant
	for _, tmpl := range Names() {
		cpu := Options{Name: "iris-" + tmpl, Version: "v1.2.3"}
		gpu := Options{Name: "iris-" + tmpl, Version: "v1.2.3", GPU: true, MultiModel: true}
		if tmpl == Go {
			cpu.SDKVersion = "v0.4.0"
			cpu.SDKRequires = []Requirement{{Path: "github.com/gorilla/mux", Version: "v1.8.1"}}
			cpu.SDKSum = []string{
				"github.com/gorilla/mux v1.8.1 h1:TuBL49tXwgrFYWhqrNgrUNEY92u81SPhu7sTdzQEiWY=",
				"github.com/sagekit/sagekit v0.4.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			}
		}
		vs = append(vs, variant{"cpu", tmpl, cpu}, variant{"gpu", tmpl, gpu})
	}
	vs = append(vs, variant{"sdk", Go, Options{Name: "iris-go", Module: "example.com/iris", Version: "v1.2.3", SDKDir: "/src/sagekit"}})
	return vs
}

func TestRenderGolden(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.template+"-"+v.name, func(t *testing.T) {
			files, err := Render(v.template, v.opts)
			if err != nil {
				t.Fatalf("Render(%q) = %v", v.template, err)
			}
			dir := filepath.Join("testdata", v.template+"-"+v.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					p := filepath.Join(dir, filepath.FromSlash(f.Path)) + ".golden"
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := map[string]string{}
			for _, f := range files {
				got[f.Path] = string(f.Data)
			}
			want := map[string]string{}
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				want[strings.TrimSuffix(filepath.ToSlash(rel), ".golden")] = string(b)
				return nil
			})
			if err != nil {
				t.Fatalf("reading golden files (run go test ./templates -update to write them): %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Render(%q) differs from %s (-golden +got); if the change is meant, run go test ./templates -update:\n%s", v.template, dir, diff)
			}
		})
	}
}

// TestRenderedProjects checks what every rendering must hold, whatever the
// golden files say.
func TestRenderedProjects(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.template+"-"+v.name, func(t *testing.T) {
			files, err := Render(v.template, v.opts)
			if err != nil {
				t.Fatal(err)
			}
			byPath := map[string]File{}
			for _, f := range files {
				byPath[f.Path] = f
			}
			for _, want := range []string{"Dockerfile", ".dockerignore", "README.md", "sagekit.json", "local/payload.csv", "local/input/data/training/iris.csv", "local/input/config/hyperparameters.json"} {
				if _, ok := byPath[want]; !ok {
					t.Errorf("no %s in the rendered project", want)
				}
			}
			df := string(byPath["Dockerfile"].Data)
			checks := []struct {
				what string
				ok   bool
			}{
				{"an exec-form ENTRYPOINT", regexp.MustCompile(`(?m)^ENTRYPOINT \["/`).MatchString(df)},
				{"no # syntax= line (it pulls the frontend image)", !strings.Contains(df, "syntax=")},
				{"nothing placed under /opt/ml", !strings.Contains(df, "/opt/ml")},
				{"the accept-bind-to-port label", strings.Contains(df, "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true")},
				{"the multi-models label exactly when asked", strings.Contains(df, "multi-models=true") == v.opts.MultiModel},
				{"the sagekit version label", strings.Contains(df, `dev.sagekit.version="`+v.opts.Version+`"`)},
				{"the sagekit template label", strings.Contains(df, `dev.sagekit.template="`+v.template+`"`)},
				{"ARG TARGETARCH", strings.Contains(df, "ARG TARGETARCH")},
				{"the NVIDIA variables exactly on GPU", strings.Contains(df, "NVIDIA_VISIBLE_DEVICES=all") == v.opts.GPU &&
					strings.Contains(df, "NVIDIA_DRIVER_CAPABILITIES=compute,utility") == v.opts.GPU},
				{"PYTHONUNBUFFERED where Python runs", strings.Contains(df, "PYTHONUNBUFFERED=TRUE") == (v.template == Python)},
			}
			if v.template == Go {
				checks = append(checks,
					struct {
						what string
						ok   bool
					}{"the compiled algorithm as entrypoint", strings.Contains(df, "COPY .sagekit/linux-${TARGETARCH}/algorithm /algorithm") && strings.Contains(df, `ENTRYPOINT ["/algorithm"]`)},
					struct {
						what string
						ok   bool
					}{"FROM scratch on CPU", strings.Contains(df, "FROM scratch") == !v.opts.GPU})
			} else {
				checks = append(checks, struct {
					what string
					ok   bool
				}{"the runtime as entrypoint", strings.Contains(df, "COPY .sagekit/linux-${TARGETARCH}/sagekit-runtime /usr/local/bin/sagekit-runtime") &&
					strings.Contains(df, `ENTRYPOINT ["/usr/local/bin/sagekit-runtime"]`)})
			}
			for _, c := range checks {
				if !c.ok {
					t.Errorf("Dockerfile lacks %s:\n%s", c.what, df)
				}
			}
			for _, f := range files {
				if strings.HasSuffix(f.Path, ".go") {
					if src, err := format.Source(f.Data); err != nil || string(src) != string(f.Data) {
						t.Errorf("%s is not gofmt-formatted (err %v)", f.Path, err)
					}
				}
				if strings.HasPrefix(string(f.Data), "#!") != (f.Mode&0o111 != 0) {
					t.Errorf("%s: mode %v; want executable exactly for scripts", f.Path, f.Mode)
				}
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, template string
		opts           Options
		want           string
	}{
		{"unknown template", "rust", Options{}, `unknown template "rust": choose one of generic, go, python`},
		{"bad name", Go, Options{Name: "My Algo"}, `project name "My Algo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.template, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Render(%q, %+v) = %v, want an error containing %q", tt.template, tt.opts, err, tt.want)
			}
		})
	}
	var ute *UnknownTemplateError
	if _, err := Render("rust", Options{}); !errors.As(err, &ute) {
		t.Errorf("Render(rust) error is %T, want *UnknownTemplateError", err)
	}
}

func TestRenderDefaults(t *testing.T) {
	tests := []struct {
		template string
		opts     Options
		from     string
	}{
		{Go, Options{}, "FROM scratch"},
		{Go, Options{GPU: true}, "ARG BASE_IMAGE=" + DefaultGPUBase},
		{Go, Options{Base: "sagekit/base:bookworm"}, "ARG BASE_IMAGE=sagekit/base:bookworm"},
		{Python, Options{}, "ARG BASE_IMAGE=" + DefaultPythonBase},
		{Python, Options{GPU: true, Base: "x/y:z"}, "ARG BASE_IMAGE=x/y:z"},
		{Python, Options{GPU: true}, "ARG BASE_IMAGE=" + DefaultPythonBase},
		{Generic, Options{}, "ARG BASE_IMAGE=" + DefaultGenericBase},
		{Generic, Options{GPU: true}, "ARG BASE_IMAGE=" + DefaultGPUBase},
	}
	for _, tt := range tests {
		files, err := Render(tt.template, tt.opts)
		if err != nil {
			t.Fatalf("Render(%q, %+v) = %v", tt.template, tt.opts, err)
		}
		df := find(t, files, "Dockerfile")
		if !strings.Contains(df, tt.from) {
			t.Errorf("Render(%q, %+v) Dockerfile lacks %q:\n%s", tt.template, tt.opts, tt.from, df)
		}
	}
	files, err := Render(Go, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(t, files, "go.mod"); !strings.HasPrefix(got, "module algorithm\n") {
		t.Errorf("default go.mod = %q, want module algorithm", got)
	}
	files, err = Render(Go, Options{NoGoMod: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "go.mod" {
			t.Errorf("Render with NoGoMod wrote go.mod")
		}
	}
}

func find(t *testing.T, files []File, path string) string {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return string(f.Data)
		}
	}
	t.Fatalf("no %s among %d files", path, len(files))
	return ""
}

func TestWrite(t *testing.T) {
	files := []File{
		{Path: "Dockerfile", Data: []byte("FROM scratch\n"), Mode: 0o644},
		{Path: "bin/run", Data: []byte("#!/bin/sh\n"), Mode: 0o755},
	}
	read := func(dir string) map[string]string {
		t.Helper()
		got := map[string]string{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = info.Mode().Perm().String() + " " + string(b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "project")
		if err := Write(dir, files); err != nil {
			t.Fatalf("Write = %v", err)
		}
		want := map[string]string{"Dockerfile": "-rw-r--r-- FROM scratch\n", "bin/run": "-rwxr-xr-x #!/bin/sh\n"}
		if diff := cmp.Diff(want, read(dir)); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".project.tmp-*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary directories left behind: %v", leftovers)
		}
	})

	t.Run("empty existing directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := Write(dir, files); err != nil {
			t.Fatalf("Write = %v", err)
		}
		if got := len(read(dir)); got != 2 {
			t.Errorf("wrote %d files, want 2", got)
		}
	})

	t.Run("non-empty directory refused", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Write(dir, files)
		if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("Write into a non-empty dir = %v, want ErrNotEmpty mentioning --force", err)
		}
		if diff := cmp.Diff(map[string]string{"Dockerfile": "-rw-r--r-- mine\n"}, read(dir)); diff != "" {
			t.Errorf("a refused Write changed files (-want +got):\n%s", diff)
		}
	})

	t.Run("force overwrites the template's files only", func(t *testing.T) {
		dir := t.TempDir()
		for name, content := range map[string]string{"Dockerfile": "mine\n", "notes.txt": "keep\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := Write(dir, files, WithForce(true)); err != nil {
			t.Fatalf("Write(WithForce) = %v", err)
		}
		want := map[string]string{"Dockerfile": "-rw-r--r-- FROM scratch\n", "bin/run": "-rwxr-xr-x #!/bin/sh\n", "notes.txt": "-rw-r--r-- keep\n"}
		if diff := cmp.Diff(want, read(dir)); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
	})

	t.Run("path escaping the directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := Write(dir, []File{{Path: "../x", Data: nil}}); err == nil {
			t.Errorf("Write(../x) = nil, want an error")
		}
	})
}

func TestNames(t *testing.T) {
	got := Names()
	if !sort.StringsAreSorted(got) || len(got) != 3 {
		t.Errorf("Names() = %v, want three sorted names", got)
	}
}
