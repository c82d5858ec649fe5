package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit types, as read by CI systems (Jenkins, GitLab, GitHub actions).
type (
	// JUnitSuites is the root element of a JUnit report.
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     float64      `xml:"time,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	// JUnitSuite is one test suite.
	JUnitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       float64         `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr"`
		Properties []JUnitProperty `xml:"properties>property"`
		Cases      []JUnitCase     `xml:"testcase"`
	}
	// JUnitProperty is a name/value pair of a suite.
	JUnitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	// JUnitCase is one rule.
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      float64       `xml:"time,attr"`
		Failure   *JUnitMessage `xml:"failure"`
		Skipped   *JUnitMessage `xml:"skipped"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	// JUnitMessage is a failure or skip reason.
	JUnitMessage struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
)

// JUnit converts the report. Failed rules are failures (type must or
// should); skipped, not-applicable and advice rules are skipped test cases,
// never passes.
func (r *Report) JUnit() JUnitSuites {
	s := JUnitSuite{
		Name:      "sagekit conformance " + r.Image.Ref,
		Time:      seconds(r.Duration),
		Timestamp: r.Started.UTC().Format(time.RFC3339),
		Properties: []JUnitProperty{
			{Name: "image", Value: r.Image.Ref},
			{Name: "run_id", Value: r.RunID},
			{Name: "profile", Value: r.Profile},
		},
	}
	for _, res := range r.Results {
		c := JUnitCase{Name: res.ID + " " + res.Description, Classname: "sagekit.conformance." + section(res.ID), Time: seconds(res.Duration)}
		switch res.Status {
		case StatusFail:
			c.Failure = &JUnitMessage{Message: res.Message, Type: string(res.Level), Text: "hint: " + res.Hint}
			s.Failures++
		case StatusSkip, StatusNA, StatusAdvice:
			c.Skipped = &JUnitMessage{Message: string(res.Status) + ": " + res.Message}
			s.Skipped++
		default:
			c.SystemOut = res.Message
		}
		s.Cases = append(s.Cases, c)
	}
	for _, ph := range r.Phases {
		s.Properties = append(s.Properties, JUnitProperty{Name: "phase." + ph.Name + ".seconds", Value: fmt.Sprintf("%.3f", ph.Duration.Seconds())})
	}
	s.Tests = len(s.Cases)
	return JUnitSuites{Name: "sagekit conformance", Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: s.Time, Suites: []JUnitSuite{s}}
}

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(r.JUnit()); err != nil {
		return fmt.Errorf("writing JUnit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// seconds is d in seconds, to the millisecond, as JUnit's time attribute.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func section(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) < 2 {
		return id
	}
	return strings.Join(parts[:len(parts)-1], "-")
}

// WriteTable writes the results as a table for a terminal, then the
// hints of failed rules and the summary.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s  (profile %s, run %s, %s", r.Image.Ref, r.Profile, r.RunID, r.Duration.Round(100*time.Millisecond))
	if r.Image.Size > 0 {
		fmt.Fprintf(w, ", %s/%s, %.1f MB", r.Image.OS, r.Image.Architecture, float64(r.Image.Size)/1e6)
	}
	fmt.Fprintln(w, ")")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLEVEL\tSTATUS\tDETAIL")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.ID, res.Level, strings.ToUpper(string(res.Status)), oneLine(res.Message, 110))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Status == StatusFail {
			fmt.Fprintf(w, "\n%s (%s) %s\n  %s\n  fix: %s\n", res.ID, res.Level, res.Description, strings.ReplaceAll(res.Message, "\n", "\n    "), res.Hint)
		}
	}
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	_, err := fmt.Fprintf(w, "\n%s: %s\n", verdict, r.Summary)
	return err
}

// WriteRules writes the rule list (sagekit test --list).
func WriteRules(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLEVEL\tAPPLIES\tDESCRIPTION")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Level, appliesTo(&r), r.Description)
	}
	return tw.Flush()
}

func appliesTo(r *Rule) string {
	switch {
	case r.Advice != "":
		return "advice"
	case r.Claim != ClaimNone:
		return "if " + string(r.Claim)
	case r.Profile != "":
		return r.Profile + " profile"
	}
	return "all"
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

// Progress returns an event function that writes one line per finished
// part of the run to w (for WithEvents).
func Progress(w io.Writer) func(Event) {
	return func(e Event) {
		switch e.Kind {
		case EventPlayStarted:
			fmt.Fprintf(w, "  %-20s running\n", e.Play)
		case EventPlayFinished:
			if e.Err != nil {
				fmt.Fprintf(w, "  %-20s error after %s: %v\n", e.Play, e.Elapsed.Round(time.Millisecond), e.Err)
				return
			}
			fmt.Fprintf(w, "  %-20s done in %s\n", e.Play, e.Elapsed.Round(time.Millisecond))
		}
	}
}
