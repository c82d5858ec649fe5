package clidoc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// AnnotationExit is the prefix of the annotations that say what an exit
// code means for a command: "sagekit.dev/exit-1" = "the build failed".
// 0, 2 and 130 mean the same for every command.
const AnnotationExit = "sagekit.dev/exit-"

// Common exit codes, the same for every command.
var Common = map[int]string{
	0:   "success",
	2:   "usage error: unknown command or flag, bad argument (nothing was started)",
	130: "interrupted (Ctrl-C or SIGTERM), after the containers, networks and temporary files it made are removed; a second Ctrl-C quits at once",
}

// Files returns the reference as file names (relative to docs/) and
// contents: cli/<command>.md for each available command, cli/README.md
// as the index, and exit-codes.md.
func Files(root *cobra.Command) map[string][]byte {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	files := map[string][]byte{}
	var cmds []*cobra.Command
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		cmds = append(cmds, c)
		for _, s := range c.Commands() {
			visit(s)
		}
	}
	visit(root)
	for _, c := range cmds {
		files["cli/"+fileName(c)] = page(c)
	}
	files["cli/README.md"] = index(cmds)
	files["exit-codes.md"] = exitTable(cmds)
	return files
}

// Write writes Files under docsDir, removing stale pages from docsDir/cli.
func Write(root *cobra.Command, docsDir string) error {
	files := Files(root)
	cliDir := filepath.Join(docsDir, "cli")
	if err := os.MkdirAll(cliDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", cliDir, err)
	}
	old, err := filepath.Glob(filepath.Join(cliDir, "*.md"))
	if err != nil {
		return err
	}
	for _, p := range old {
		rel, _ := filepath.Rel(docsDir, p)
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing the stale %s: %w", p, err)
			}
		}
	}
	for name, b := range files {
		p := filepath.Join(docsDir, filepath.FromSlash(name))
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

func fileName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
}

const header = "<!-- Generated from the commands by `make docs`; do not edit. -->\n\n"

func page(c *cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", c.CommandPath(), c.Short)
	if c.Runnable() && !c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
	}
	if c.Long != "" {
		fmt.Fprintf(&b, "%s\n\n", escapeLong(c.Long))
	}
	if c.Example != "" {
		fmt.Fprintf(&b, "## Examples\n\n```\n%s\n```\n\n", strings.TrimRight(c.Example, "\n"))
	}
	if c.HasAvailableLocalFlags() || c.HasAvailablePersistentFlags() {
		fmt.Fprintf(&b, "## Options\n\n```\n%s```\n\n", c.NonInheritedFlags().FlagUsages())
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(&b, "## Options inherited from parent commands\n\n```\n%s```\n\n", c.InheritedFlags().FlagUsages())
	}
	if c.Runnable() {
		b.WriteString("## Exit status\n\n")
		for _, e := range exitCodes(c) {
			fmt.Fprintf(&b, "- %d: %s\n", e.code, e.text)
		}
		b.WriteString("\n")
	}
	var see []string
	if c.HasParent() {
		p := c.Parent()
		see = append(see, fmt.Sprintf("- [%s](%s): %s", p.CommandPath(), fileName(p), p.Short))
	}
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			see = append(see, fmt.Sprintf("- [%s](%s): %s", s.CommandPath(), fileName(s), s.Short))
		}
	}
	if len(see) > 0 {
		fmt.Fprintf(&b, "## See also\n\n%s\n", strings.Join(see, "\n"))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// escapeLong keeps a command's Long text verbatim: its indented lines are
// preformatted already, and nothing in it is Markdown.
func escapeLong(s string) string {
	return "```text\n" + strings.TrimRight(s, "\n") + "\n```"
}

func index(cmds []*cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("# sagekit command reference\n\nEvery command, with its flags and examples; `sagekit COMMAND --help` prints the same. [Exit codes](../exit-codes.md) are listed per command.\n\n| Command | What it does |\n|---|---|\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "| [%s](%s) | %s |\n", c.CommandPath(), fileName(c), c.Short)
	}
	return b.Bytes()
}

type exitCode struct {
	code int
	text string
}

// exitCodes lists what each exit code means for c, in order.
func exitCodes(c *cobra.Command) []exitCode {
	m := map[int]string{}
	for k, v := range Common {
		m[k] = v
	}
	for k, v := range c.Annotations {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, AnnotationExit)); err == nil && strings.HasPrefix(k, AnnotationExit) {
			m[n] = v
		}
	}
	var out []exitCode
	for k, v := range m {
		out = append(out, exitCode{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].code < out[j].code })
	return out
}

func exitTable(cmds []*cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("# Exit codes\n\nEvery sagekit command exits with one of these codes. 0, 2 and 130 mean the same everywhere:\n\n")
	for _, k := range []int{0, 2, 130} {
		fmt.Fprintf(&b, "- **%d**: %s\n", k, Common[k])
	}
	b.WriteString("\nWhat 1 (and any other code) means depends on the command:\n\n| Command | 0 | 1 | 2 | 130 |\n|---|---|---|---|---|\n")
	for _, c := range cmds {
		if !c.Runnable() {
			continue
		}
		cells := map[int]string{0: "success", 2: "usage error", 130: "interrupted"}
		for _, e := range exitCodes(c) {
			if _, common := Common[e.code]; !common {
				cells[e.code] = e.text
			}
		}
		one := cells[1]
		if one == "" {
			one = "-"
		}
		fmt.Fprintf(&b, "| [%s](cli/%s) | %s | %s | %s | %s |\n", c.CommandPath(), fileName(c), cells[0], one, cells[2], cells[130])
	}
	return b.Bytes()
}
