package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sagekit/sagekit/image/base"
	"github.com/sagekit/sagekit/internal/version"
	"github.com/spf13/cobra"
)

func init() { register(newBaseCmd) }

func newBaseCmd() *cobra.Command {
	var opts base.Options
	var progress progressFlag
	cmd := &cobra.Command{
		Use:   "base",
		Short: "Make the local base images (sagekit/base, sagekit/python, sagekit/cuda) from Debian's mirror",
		Long: `Make sagekit's base images from Debian's mirror, with no container registry:
  sagekit/base:bookworm    minbase Debian bookworm with ca-certificates, slimmed
  sagekit/python:bookworm  + python3, numpy, scipy, pandas, scikit-learn (Debian packages)
  sagekit/cuda:bookworm    + the CUDA 11.8 runtime (libcudart) from Debian non-free, amd64 only

It needs root and debootstrap (apt-get install debootstrap). The debootstrap
rootfs and the layers are cached under ~/.cache/sagekit/base, so a second run
(or one after docker rmi) only reloads them. Images already in the Engine are
kept unless --force.`,
		Example: `  sudo sagekit base
  sudo sagekit base --only base,python
  sudo sagekit base --only cuda --arch amd64 --mirror http://deb.debian.org/debian`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := progress.resolve(cmd.ErrOrStderr())
			if err != nil {
				return badFlags(cmd, err)
			}
			dc, err := engineClient()
			if err != nil {
				return err
			}
			defer dc.Close()
			opts.Docker = dc
			opts.Version = version.Version
			opts.Logger = progressLogger(mode, cmd.ErrOrStderr())
			res, err := base.Run(cmd.Context(), opts)
			printBaseResults(cmd.OutOrStdout(), res)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Only, "only", nil, "images to make: base,python,cuda (default all)")
	fl.StringVar(&opts.Arch, "arch", "", "architecture, amd64 or arm64 (default: the host's)")
	fl.StringVar(&opts.Mirror, "mirror", base.DefaultMirror, "Debian mirror URL")
	fl.BoolVar(&opts.Force, "force", false, "rebuild the rootfs and the images even when present")
	fl.StringVar(&opts.CacheDir, "cache-dir", "", "where the rootfs and layers are cached (default ~/.cache/sagekit)")
	documentExit(cmd, "making an image failed (debootstrap, the mirror, the Docker Engine)")
	progress.register(cmd)
	cmd.RegisterFlagCompletionFunc("only", cobra.FixedCompletions([]string{"base", "python", "cuda"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("arch", cobra.FixedCompletions([]string{"amd64", "arm64"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func printBaseResults(w io.Writer, res []base.Result) {
	if len(res) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tSIZE\tTOOK\tNOTE")
	for _, r := range res {
		size := "-"
		if r.Size > 0 {
			size = fmt.Sprintf("%.1f MB", float64(r.Size)/1e6)
		}
		took := "-"
		if r.Took > 0 {
			took = r.Took.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Ref, size, took, r.Skipped)
	}
	tw.Flush()
}
