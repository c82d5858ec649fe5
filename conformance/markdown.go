package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Markers around the generated part of docs/conformance.md.
const (
	DocsBegin = "<!-- BEGIN GENERATED RULES: make docs -->"
	DocsEnd   = "<!-- END GENERATED RULES -->"
)

// WriteMarkdown writes the rule reference of docs/conformance.md: every
// rule with its id, level, description, fix hint and how it is checked, and
// the advice rules with the reason they are not checked.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	for _, s := range sections {
		fmt.Fprintf(&b, "### %s\n\n", s.title)
		for _, r := range s.rules {
			fmt.Fprintf(&b, "#### %s (%s) %s\n\n", r.ID, r.Level, escape(r.Description))
			switch {
			case r.Advice != "":
				fmt.Fprintf(&b, "- **Advice, not checked:** %s\n", escape(r.Advice))
			default:
				fmt.Fprintf(&b, "- **Checked:** %s\n", escape(r.How))
			}
			if r.Profile != "" {
				fmt.Fprintf(&b, "- **Applies:** %s profile only (`sagekit test --gpu`).\n", r.Profile)
			}
			if r.Claim != ClaimNone {
				fmt.Fprintf(&b, "- **Applies:** only when the image claims %s; otherwise not applicable.\n", escape(claimText(r.Claim)))
			}
			switch {
			case len(r.deps) > 0 && r.evidence != nil:
				fmt.Fprintf(&b, "- **Depends on:** %s (skipped when one of them fails, unless the runs already show a violation, which fails the rule).\n", strings.Join(r.deps, ", "))
			case len(r.deps) > 0:
				fmt.Fprintf(&b, "- **Depends on:** %s (skipped when one of them fails).\n", strings.Join(r.deps, ", "))
			}
			fmt.Fprintf(&b, "- **Fix:** %s\n\n", escape(r.Hint))
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func escape(s string) string { return strings.ReplaceAll(s, "<", `\<`) }

// ErrNoMarkers is returned by UpdateDocs for a document without the
// DocsBegin and DocsEnd markers.
var ErrNoMarkers = errors.New("no generated-rules markers")

// UpdateDocs returns doc (docs/conformance.md) with the part between
// DocsBegin and DocsEnd replaced by the rule reference WriteMarkdown writes.
func UpdateDocs(doc []byte) ([]byte, error) {
	begin := bytes.Index(doc, []byte(DocsBegin))
	end := bytes.Index(doc, []byte(DocsEnd))
	if begin < 0 || end < begin {
		return nil, fmt.Errorf("%w %q and %q", ErrNoMarkers, DocsBegin, DocsEnd)
	}
	var b bytes.Buffer
	b.Write(doc[:begin+len(DocsBegin)])
	b.WriteString("\n\n")
	if err := WriteMarkdown(&b); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	b.Write(doc[end:])
	return b.Bytes(), nil
}
