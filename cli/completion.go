package cli

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/templates"
)

// Shell completion of values: `sagekit completion bash|zsh|fish|powershell`
// writes the script; these functions give it images, templates, channels
// and rule ids.

// completeImages offers the tagged images of the local Docker Engine for
// the first argument.
func completeImages(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return localImages(cmd.Context(), toComplete), cobra.ShellCompDirectiveNoFileComp
}

func localImages(ctx context.Context, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	dc, err := engineClient()
	if err != nil {
		return nil
	}
	defer dc.Close()
	res, err := dc.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, im := range res.Items {
		for _, t := range im.RepoTags {
			if t != "<none>:<none>" && strings.HasPrefix(t, prefix) {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}

// completeTemplates offers the template names.
func completeTemplates(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return templates.Names(), cobra.ShellCompDirectiveNoFileComp
}

// commonChannels are SageMaker's usual channel names.
var commonChannels = []string{"training", "validation", "test"}

// completeChannels offers CHANNEL=DIR for --data: the channels a project
// made by sagekit init holds under local/input/data, then the usual
// names; after the "=" it completes directories.
func completeChannels(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	var out []string
	seen := map[string]bool{}
	if ents, err := os.ReadDir(filepath.Join("local", "input", "data")); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				seen[e.Name()] = true
				out = append(out, e.Name()+"="+filepath.Join("local", "input", "data", e.Name()))
			}
		}
	}
	for _, c := range commonChannels {
		if !seen[c] {
			out = append(out, c+"=")
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// completeRules offers rule ids and their section prefixes (C-IN, T-TR)
// for --rules and --skip, after any ids already given in the list.
func completeRules(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	done, cur := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, cur = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range conformance.Rules() {
		sec := r.ID[:strings.LastIndex(r.ID, "-")]
		for _, id := range []string{sec, r.ID} {
			if !seen[id] && strings.HasPrefix(id, strings.ToUpper(cur)) {
				seen[id] = true
				out = append(out, done+id+"\t"+describeRule(id, r))
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func describeRule(id string, r conformance.Rule) string {
	if id != r.ID {
		return "every " + id + " rule"
	}
	return r.Description
}
