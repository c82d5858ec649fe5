package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

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
	f.StringVar(&o.base, "base", "", "base image (default: scratch for go, "+templates.DefaultPythonBase+" for python, "+templates.DefaultGenericBase+" for generic, "+templates.DefaultGPUBase+" with --gpu)")
	f.BoolVar(&o.gpu, "gpu", false, "a CUDA base image with the NVIDIA runtime variables set")
	f.BoolVar(&o.multiModel, "multi-model", false, "label the image for multi-model endpoints")
	f.BoolVar(&o.force, "force", false, "write into a non-empty DIR, replacing the files the template writes")
	f.StringVar(&o.sdkDir, "sdk", "", "go template: build against the sagekit source in this directory (writes a go.work)")
	cmd.RegisterFlagCompletionFunc("template", completeTemplates)
	cmd.MarkFlagDirname("sdk")
	return cmd
}

func runInit(_ context.Context, w io.Writer, o initOptions) error {
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
	files, err := templates.Render(o.template, templates.Options{
		Name:       name,
		GPU:        o.gpu,
		Base:       o.base,
		MultiModel: o.multiModel,
		SDKDir:     sdk,
	})
	if err != nil {
		return err
	}
	if err := templates.Write(o.dir, files, templates.WithForce(o.force)); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote the %s project %s to %s (%d files)\nnext: cd %s && sagekit build -t %s .\n",
		o.template, name, o.dir, len(files), o.dir, name)
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
