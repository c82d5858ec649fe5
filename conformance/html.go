package conformance

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper": func(s Status) string { return strings.ToUpper(string(s)) },
	"class": func(s Status) string {
		switch s {
		case StatusPass:
			return "pass"
		case StatusFail:
			return "fail"
		}
		return "skip"
	},
	"secs": func(d time.Duration) string {
		switch {
		case d == 0:
			return ""
		case d < time.Second:
			return d.Round(time.Millisecond).String()
		}
		return d.Round(10 * time.Millisecond).String()
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"mb":      func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) },
}).Parse(htmlTemplate))

// sectionTitles names the rule sections, by id prefix, as
// docs/conformance.md does.
var sectionTitles = map[string]string{
	"C-TR":  "Training",
	"C-GPU": "GPU images",
	"T-TR":  "Training toolkit compatibility",
	"C-IN":  "Real-time inference",
	"T-IN":  "Inference toolkit compatibility",
	"C-BT":  "Batch transform",
	"C-MM":  "Multi-model endpoints",
	"C-IMG": "Image",
}

type htmlSection struct {
	ID, Title string
	Results   []Result
	Summary   Summary
}

type htmlPhase struct {
	Phase
	// Left and Width place the phase's bar on the run's time line, in
	// percent.
	Left, Width float64
}

// WriteHTML writes the report as one self-contained HTML page: styles
// inline, no scripts, no external references, so it opens offline and
// can be kept as a CI artifact.
func (r *Report) WriteHTML(w io.Writer) error {
	var secs []*htmlSection
	byID := map[string]*htmlSection{}
	for _, res := range r.Results {
		id := section(res.ID)
		s := byID[id]
		if s == nil {
			title := sectionTitles[id]
			if title == "" {
				title = id
			}
			s = &htmlSection{ID: id, Title: title}
			byID[id] = s
			secs = append(secs, s)
		}
		s.Results = append(s.Results, res)
	}
	for _, s := range secs {
		s.Summary = summarize(s.Results)
	}
	total := r.Duration
	for _, ph := range r.Phases {
		if end := ph.Start + ph.Duration; end > total {
			total = end
		}
	}
	var phases []htmlPhase
	for _, ph := range r.Phases {
		hp := htmlPhase{Phase: ph}
		if total > 0 {
			hp.Left = 100 * float64(ph.Start) / float64(total)
			hp.Width = max(100*float64(ph.Duration)/float64(total), 0.5)
		}
		phases = append(phases, hp)
	}
	var failed []Result
	for _, res := range r.Results {
		if res.Status == StatusFail {
			failed = append(failed, res)
		}
	}
	err := reportHTML.Execute(w, map[string]any{
		"R":        r,
		"Passed":   r.Passed(),
		"Sections": secs,
		"Phases":   phases,
		"Failed":   failed,
	})
	if err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	return nil
}
