package cli

import (
	"fmt"

	"github.com/sagekit/sagekit/image/sdkmod"
	"github.com/spf13/cobra"
)

func init() { register(newSDKCmd) }

func newSDKCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sdk",
		Short: "Print the Go SDK module this sagekit carries",
		Long: `Print the module path and version of the Go SDK that this sagekit binary
carries inside itself. Go projects written by "sagekit init" require exactly
this version; "sagekit build" offers it to the go command from the binary, and
"sagekit init" adds it to the Go module cache so that go build and go test
find it too.`,
		Example: `  sagekit sdk
  sagekit sdk download   # after go clean -modcache`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sdkmod.Load(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", sdkmod.Module, s.Version)
			return err
		},
	}
	documentExit(cmd, "the SDK module this binary carries could not be read")
	download := &cobra.Command{
		Use:   "download",
		Short: "Add the SDK module this sagekit carries to the Go module cache",
		Long: `Add the Go SDK module this sagekit binary carries to the Go module cache
(GOMODCACHE), where go build and go test in a project written by
"sagekit init" find it with no proxy and no network.`,
		Example: `  sagekit sdk download
  GOMODCACHE=/tmp/modcache sagekit sdk download`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sdkmod.Load(cmd.Context())
			if err != nil {
				return err
			}
			if err := s.Download(cmd.Context()); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "added %s@%s to the Go module cache\n", sdkmod.Module, s.Version)
			return err
		},
	}
	documentExit(download, "the module could not be written to the Go module cache (GOMODCACHE, go env)")
	cmd.AddCommand(download)
	return cmd
}
