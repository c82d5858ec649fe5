// Package clidoc writes the CLI reference (docs/cli/) and the table of exit
// codes (docs/exit-codes.md) from the cobra command tree, so the documents
// cannot drift from the commands.
package clidoc
