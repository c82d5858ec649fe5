// Package version holds the build's version and commit, set with -ldflags
// by the Makefile.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Set by -ldflags "-X github.com/sagekit/sagekit/internal/version.Version=...".
var (
	Version = "dev"
	Commit  = ""
)

// CommitOrVCS returns Commit, or the VCS revision Go stamped into the binary.
func CommitOrVCS() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				if len(s.Value) > 12 {
					return s.Value[:12]
				}
				return s.Value
			}
		}
	}
	return "unknown"
}

// String is the one-line version report of both binaries.
func String(program string) string {
	return fmt.Sprintf("%s %s (commit %s, %s, %s/%s, contract %s)",
		program, Version, CommitOrVCS(), runtime.Version(), runtime.GOOS, runtime.GOARCH, optml.ContractVersion)
}
