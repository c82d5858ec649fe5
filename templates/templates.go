package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/sagekit/sagekit/internal/version"
)

//go:embed all:skel
var skel embed.FS

// Template names.
const (
	Go      = "go"
	Python  = "python"
	Generic = "generic"
)

// Names lists the templates Render knows, sorted.
func Names() []string { return []string{Generic, Go, Python} }

// Default base images: the local bases `sagekit base` makes from Debian's
// mirror, so a project builds with no registry. The python template keeps
// its Python base with --gpu (scikit-learn needs no CUDA; the NVIDIA
// runtime adds the driver); go and generic use DefaultGPUBase.
const (
	DefaultPythonBase  = "sagekit/python:bookworm"
	DefaultGenericBase = "sagekit/base:bookworm"
	DefaultGPUBase     = "sagekit/cuda:bookworm"
)

// SDKModule is the module path generated Go projects require.
const SDKModule = "github.com/sagekit/sagekit"

// Options chooses what Render writes. The zero value renders a CPU project
// named "algorithm" with the template's default base image.
type Options struct {
	// Name names the project: the image name in the README and, for the go
	// template, the module path unless Module is set. Default "algorithm".
	Name string
	// Module is the go template's module path. Default Name.
	Module string
	// GPU selects a CUDA base image and sets the NVIDIA runtime variables.
	GPU bool
	// Base replaces the template's base image (FROM). Default: DefaultBase.
	Base string
	// MultiModel adds the multi-model endpoint label.
	MultiModel bool
	// SDKVersion is the github.com/sagekit/sagekit version a go project's
	// go.mod requires. Default "v0.0.0".
	SDKVersion string
	// SDKRequires are the modules the SDK's packages import, required in
	// go.mod as indirect dependencies.
	SDKRequires []Requirement
	// SDKSum holds the go.sum lines of the SDK module and of SDKRequires;
	// go.sum is written only when it is set.
	SDKSum []string
	// SDKDir, when set, adds a go.work to a go project that uses the
	// sagekit source at SDKDir (an absolute path), for building against a
	// local checkout before the module is published.
	SDKDir string
	// Version is the sagekit version written into the image label.
	// Default: the running binary's version.
	Version string
	// NoGoMod leaves go.mod out of a go project, for projects that live
	// inside another module (the repository's own examples).
	NoGoMod bool
}

// Requirement is one module requirement of a go project's go.mod.
type Requirement struct{ Path, Version string }

// File is one rendered file. Path is slash-separated and relative to the
// project directory.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// UnknownTemplateError reports a template name Render does not know.
type UnknownTemplateError struct{ Name string }

func (e *UnknownTemplateError) Error() string {
	return fmt.Sprintf("unknown template %q: choose one of %s", e.Name, strings.Join(Names(), ", "))
}

// data is what the skeletons see.
type data struct {
	Name, Module, Template string
	GPU, MultiModel        bool
	Base, Version, SDKDir  string
	GoVersion              string
	SDKVersion, SDKModule  string
	SDKRequires            []Requirement
	SDKSum                 []string
	GoWorkVersion          string
	// GoMod is false for a go project written without go.mod (NoGoMod).
	GoMod bool
}

var validName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// Render returns the files of template name for opts, sorted by path.
func Render(name string, opts Options) ([]File, error) {
	if !isTemplate(name) {
		return nil, &UnknownTemplateError{Name: name}
	}
	d, err := newData(name, opts)
	if err != nil {
		return nil, err
	}
	var files []File
	root := "skel/" + name
	err = fs.WalkDir(skel, root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		f, keep, err := renderFile(strings.TrimPrefix(p, root+"/"), p, d, opts)
		if err != nil {
			return err
		}
		if keep {
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func isTemplate(name string) bool {
	for _, n := range Names() {
		if n == name {
			return true
		}
	}
	return false
}

func newData(name string, opts Options) (*data, error) {
	d := &data{
		Name:       opts.Name,
		Module:     opts.Module,
		Template:   name,
		GPU:        opts.GPU,
		MultiModel: opts.MultiModel,
		Base:       opts.Base,
		Version:    opts.Version,
		SDKDir:     opts.SDKDir,
		// The SDK's own go.mod says go 1.26.8; a lower go line here would
		// make the go command rewrite go.mod on the first build.
		GoVersion:   "1.26.8",
		SDKVersion:  opts.SDKVersion,
		SDKModule:   SDKModule,
		SDKRequires: opts.SDKRequires,
		SDKSum:      opts.SDKSum,
		GoMod:       !opts.NoGoMod,
		// go.work must name a version no older than any module it uses.
		GoWorkVersion: "1.26.8",
	}
	if d.Name == "" {
		d.Name = "algorithm"
	}
	if !validName.MatchString(d.Name) {
		return nil, fmt.Errorf("project name %q: use lower-case letters, digits and single . _ - between them (it becomes the image name)", d.Name)
	}
	if d.Module == "" {
		d.Module = d.Name
	}
	if d.SDKVersion == "" {
		d.SDKVersion = "v0.0.0"
	}
	if d.Version == "" {
		d.Version = version.Version
	}
	if d.Base == "" {
		d.Base = DefaultBase(name, d.GPU)
	}
	return d, nil
}

// DefaultBase returns the base image template name uses without --base:
// "" (scratch) for a CPU go project.
func DefaultBase(name string, gpu bool) string {
	switch {
	case name == Python:
		return DefaultPythonBase
	case gpu:
		return DefaultGPUBase
	case name == Generic:
		return DefaultGenericBase
	}
	return ""
}

var funcs = template.FuncMap{
	// quote writes s as a JSON/Dockerfile string literal.
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
	// baseName is the name `sagekit base --only` takes for a sagekit/* base.
	"baseName": func(image string) string {
		name, _, _ := strings.Cut(strings.TrimPrefix(image, "sagekit/"), ":")
		return name
	},
}

// renderFile turns one skeleton file into a File. Files ending in .tmpl are
// executed as text/template and lose the suffix; the rest are copied.
func renderFile(rel, p string, d *data, opts Options) (File, bool, error) {
	b, err := skel.ReadFile(p)
	if err != nil {
		return File{}, false, fmt.Errorf("reading skeleton %s: %w", p, err)
	}
	if strings.HasSuffix(rel, ".tmpl") {
		rel = strings.TrimSuffix(rel, ".tmpl")
		t, err := template.New(path.Base(p)).Funcs(funcs).Option("missingkey=error").Parse(string(b))
		if err != nil {
			return File{}, false, fmt.Errorf("parsing skeleton %s: %w", p, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return File{}, false, fmt.Errorf("rendering skeleton %s: %w", p, err)
		}
		b = buf.Bytes()
	}
	if (rel == "go.mod" && opts.NoGoMod) || len(b) == 0 {
		// An empty rendering means the file does not apply (go.work
		// without --sdk).
		return File{}, false, nil
	}
	mode := fs.FileMode(0o644)
	if bytes.HasPrefix(b, []byte("#!")) {
		mode = 0o755
	}
	return File{Path: rel, Data: b, Mode: mode}, true, nil
}
