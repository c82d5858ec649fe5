package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sagekit/sagekit/image/sdkmod"
	"github.com/sagekit/sagekit/templates"
	"github.com/spf13/cobra"
)

func init() { register(newInitCmd) }

type initOptions struct {
	dir        string
	template   string
	name       string
	base       string
	sdkDir     string
	gpu        bool
	multiModel bool
	force      bool
}

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init DIR --template go|python|generic",
		Short: "Write a new project that builds and runs as generated",
		Long: `Write a new SageMaker algorithm project into DIR: a Dockerfile, train and
serve code, sample data laid out as /opt/ml, a README and a .dockerignore.

Templates:
  go       a decision tree in Go on sagekit's SDK, served in process (FROM scratch)
  python   a scikit-learn decision tree served by sagekit-runtime's Python adapter
  generic  train and serve as your own programs (a shell, awk and perl example)

A go project's go.mod requires the Go SDK this sagekit binary carries (see
sagekit sdk); init writes its checksums to go.sum and adds it to the Go
module cache, so go build, go test and sagekit build work with no checkout.

DIR must be empty or missing unless --force is given.`,
		Example: `  sagekit init my-algo --template go
  sagekit init my-algo --template python --gpu
  sagekit init . --template generic --name my-algo --force`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = args[0]
			if !slices.Contains(templates.Names(), o.template) {
				return badFlags(cmd, unknownTemplate(o.template))
			}
			return runInit(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	documentExit(cmd, "the project could not be written (DIR is not empty and no --force, or a file could not be written)")
	f := cmd.Flags()
	f.StringVarP(&o.template, "template", "t", "", "the skeleton: "+strings.Join(templates.Names(), ", "))
	f.StringVar(&o.name, "name", "", "project and image name (default: DIR's base name)")
	f.StringVar(&o.base, "base", "", "base image (default: scratch for go, "+templates.DefaultPythonBase+" for python, "+templates.DefaultGenericBase+" for generic; with --gpu "+templates.DefaultGPUBase+" for go and generic; sagekit base makes these)")
	f.BoolVar(&o.gpu, "gpu", false, "a CUDA base image with the NVIDIA runtime variables set")
	f.BoolVar(&o.multiModel, "multi-model", false, "label the image for multi-model endpoints")
	f.BoolVar(&o.force, "force", false, "write into a non-empty DIR, replacing the files the template writes")
	f.StringVar(&o.sdkDir, "sdk", "", "go template: build against the sagekit source in this directory (writes a go.work), for SDK development; by default go.mod requires the SDK this binary carries")
	cmd.RegisterFlagCompletionFunc("template", completeTemplates)
	cmd.MarkFlagDirname("sdk")
	return cmd
}

func runInit(ctx context.Context, w io.Writer, o initOptions) error {
	if o.template == "" {
		return fmt.Errorf("no template: pass --template with one of %s", strings.Join(templates.Names(), ", "))
	}
	name := o.name
	if name == "" {
		abs, err := filepath.Abs(o.dir)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", o.dir, err)
		}
		name = projectName(filepath.Base(abs))
	}
	sdk := o.sdkDir
	if sdk != "" {
		if o.template != templates.Go {
			return fmt.Errorf("--sdk applies to the go template only")
		}
		abs, err := filepath.Abs(sdk)
		if err != nil {
			return fmt.Errorf("resolving --sdk %s: %w", sdk, err)
		}
		sdk = abs
	}
	topts := templates.Options{
		Name:       name,
		GPU:        o.gpu,
		Base:       o.base,
		MultiModel: o.multiModel,
		SDKDir:     sdk,
	}
	var carried *sdkmod.SDK
	if o.template == templates.Go && sdk == "" {
		s, err := sdkmod.Load(ctx)
		if err != nil {
			return fmt.Errorf("writing a go project: %w", err)
		}
		carried = s
		topts.SDKVersion = s.Version
		topts.SDKSum = s.Sum
		for _, r := range s.Requires {
			topts.SDKRequires = append(topts.SDKRequires, templates.Requirement{Path: r.Path, Version: r.Version})
		}
	}
	files, err := templates.Render(o.template, topts)
	if err != nil {
		return err
	}
	if err := templates.Write(o.dir, files, templates.WithForce(o.force)); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote the %s project %s to %s (%d files)\n", o.template, name, o.dir, len(files))
	if carried != nil {
		// go build and go test in the project find the SDK in the module
		// cache; sagekit build does not need it there.
		if err := carried.Download(ctx); err != nil {
			fmt.Fprintf(w, "note: go build and go test need the SDK in the Go module cache, and adding it failed (sagekit build works without it; `sagekit sdk download` retries): %v\n", err)
		} else {
			fmt.Fprintf(w, "added %s@%s to the Go module cache\n", sdkmod.Module, carried.Version)
		}
	}
	base := o.base
	if base == "" {
		base = templates.DefaultBase(o.template, o.gpu)
	}
	if hint := baseHint(ctx, base, engineHas); hint != "" {
		fmt.Fprintln(w, hint)
	}
	fmt.Fprintf(w, "next: cd %s && sagekit build -t %s .\n", o.dir, name)
	return nil
}

// unknownTemplate says which templates there are, and the closest one.
func unknownTemplate(name string) error {
	names := strings.Join(templates.Names(), ", ")
	if name == "" {
		return fmt.Errorf("no template: pass --template with one of %s", names)
	}
	for _, n := range templates.Names() {
		if editDistance(name, n) <= 2 {
			return fmt.Errorf("unknown template %q: did you mean %s? (templates: %s)", name, n, names)
		}
	}
	return fmt.Errorf("unknown template %q: choose one of %s", name, names)
}

// baseHint says how to make a local sagekit base that the Docker Engine
// does not have; "" when it has it, when base is another image, or when no
// engine answers (build says so then).
func baseHint(ctx context.Context, base string, has func(context.Context, string) (bool, error)) string {
	var only string
	switch base {
	case templates.DefaultGenericBase:
		only = "base"
	case templates.DefaultPythonBase:
		only = "python"
	case templates.DefaultGPUBase:
		only = "cuda"
	default:
		return ""
	}
	if ok, err := has(ctx, base); ok || err != nil {
		return ""
	}
	return fmt.Sprintf("note: the base image %s is not in the Docker Engine: make it from Debian's mirror with `sudo sagekit base --only %s` before building", base, only)
}

// engineHas reports whether the Docker Engine holds image ref.
func engineHas(ctx context.Context, ref string) (bool, error) {
	dc, err := engineClient()
	if err != nil {
		return false, err
	}
	defer dc.Close()
	_, err = dc.ImageInspect(ctx, ref)
	var notFound interface{ NotFound() }
	if errors.As(err, &notFound) {
		return false, nil
	}
	return err == nil, err
}

var nameJunk = regexp.MustCompile(`[^a-z0-9]+`)

// projectName turns a directory name into an image name: lower case, runs
// of other characters as one dash; "algorithm" when nothing is left.
func projectName(dir string) string {
	n := strings.Trim(nameJunk.ReplaceAllString(strings.ToLower(dir), "-"), "-")
	if n == "" {
		return "algorithm"
	}
	return n
}

// projectPayload is where a project written by init keeps its sample
// request, relative to the project directory.
const projectPayload = "local/payload.csv"

// samplePayload names the request file for the curl line run endpoint
// prints: the project's sample when run in a project directory.
func samplePayload() string {
	if fi, err := os.Stat(projectPayload); err == nil && fi.Mode().IsRegular() {
		return projectPayload
	}
	return "payload.csv"
}
