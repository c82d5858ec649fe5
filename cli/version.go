package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/sagekit/sagekit/internal/version"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/spf13/cobra"
)

func init() { register(newVersionCmd) }

// versionInfo is what version --json prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Contract  string `json:"contract_version"`
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and contract version",
		Long: `Print sagekit's version, the commit it was built from, the Go version, the
platform and the version of the SageMaker container contract it implements.
sagekit --version prints the same line.`,
		Example: `  sagekit version
  sagekit version --json | jq -r .version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(versionInfo{
					Version: version.Version, Commit: version.CommitOrVCS(), GoVersion: runtime.Version(),
					OS: runtime.GOOS, Arch: runtime.GOARCH, Contract: optml.ContractVersion,
				})
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version.String("sagekit"))
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as a JSON object")
	documentExit(cmd, "writing to stdout failed")
	return cmd
}
