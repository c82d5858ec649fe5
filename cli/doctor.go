package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/internal/doctor"
)

func init() { register(newDoctorCmd) }

func newDoctorCmd() *cobra.Command {
	var o doctor.Options
	var aws awsIdentity
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine for what sagekit needs, and say how to fix what is missing",
		Long: `Checks the Docker Engine, its BuildKit, the base images (sagekit/base,
sagekit/python, sagekit/cuda), a GPU runtime, debootstrap, the Go toolchain,
and AWS credentials and region (loaded as sagekit push loads them; no AWS
API is called and no secret is printed). Prints one line per check and,
for each missing item, the command that fixes it.

Exits 1 when something required is missing (the engine, BuildKit,
sagekit/base, sagekit/python); the GPU runtime, sagekit/cuda, debootstrap,
Go and AWS are needed for some uses only and are reported without failing.`,
		Example: `  sagekit doctor
  sagekit doctor --profile prod --region eu-west-1
  sagekit doctor --json | jq '.[] | select(.status != "ok")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A client that cannot be configured is the engine check's
			// to report.
			if dc, err := engineClient(); err == nil {
				defer dc.Close()
				o.Docker = dc
			}
			o.Profile, o.Region = aws.profile, aws.region
			checks := doctor.Run(cmd.Context(), o)
			if err := printChecks(cmd.OutOrStdout(), checks, asJSON); err != nil {
				return err
			}
			if doctor.Failed(checks) {
				return &ExitError{Code: ExitFailed, Err: fmt.Errorf("something required is missing: run the fix commands above")}
			}
			return nil
		},
	}
	documentExit(cmd, "something required is missing (the Docker Engine, BuildKit, sagekit/base, sagekit/python)")
	f := cmd.Flags()
	aws.register(cmd)
	f.BoolVar(&asJSON, "json", false, "print the checks as a JSON array")
	return cmd
}

func printChecks(w io.Writer, checks []doctor.Check, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(checks)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range checks {
		mark := "ok"
		if c.Status != doctor.OK {
			mark = "MISSING"
			if !c.Required {
				mark = "missing (optional)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, mark, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var fixes []doctor.Check
	for _, c := range checks {
		if c.Status != doctor.OK && c.Fix != "" {
			fixes = append(fixes, c)
		}
	}
	if len(fixes) > 0 {
		fmt.Fprintln(w, "\nto fix:")
		for _, c := range fixes {
			fmt.Fprintf(w, "  %s: %s\n", c.Name, c.Fix)
		}
	}
	return nil
}
