package report

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/sagekit/sagekit/evaluate/metrics"
)

type pageModel struct {
	Model
	Letter    string
	ROC       template.HTML
	ROCNote   string
	Confusion *confusion
	Residuals template.HTML
	Flagged   []string
}

type pageData struct {
	*Report
	Title    string
	Describe string
	Models   []pageModel
	Bars     []template.HTML
	Docs     []metrics.Metric
	Goal     map[string]string
	Legend   []legendEntry
}

// WriteHTML writes the report as one self-contained page (inline CSS and
// SVG, nothing fetched): tables, per-fold bars of every metric, and per
// model a ROC curve and a confusion matrix (classifiers) or a residual
// plot (regression).
func (r *Report) WriteHTML(path string) error {
	b, err := r.HTML()
	if err != nil {
		return err
	}
	return writeFile(path, b)
}

// HTML renders the page.
func (r *Report) HTML() ([]byte, error) {
	d := pageData{Report: r, Title: "sagekit evaluate " + r.Image, Describe: r.Describe(), Goal: map[string]string{}}
	for _, met := range r.Metrics {
		d.Goal[met.Name] = met.Direction
	}
	if r.Compare != "" {
		d.Title += " vs " + r.Compare
	}
	for _, met := range r.Metrics {
		if len(r.Models) == 0 || !anyOK(r.Models) {
			break
		}
		s, err := r.foldBars(met.Name)
		if err != nil {
			return nil, err
		}
		d.Bars = append(d.Bars, s)
		d.Legend = r.barLegend()
		if m, err := metrics.Lookup(met.Name); err == nil {
			d.Docs = append(d.Docs, m)
		}
	}
	for i, m := range r.Models {
		pm := pageModel{Model: m, Letter: modelLetter(i)}
		for _, s := range m.Summary {
			if s.Overfit {
				pm.Flagged = append(pm.Flagged, s.Metric)
			}
		}
		var err error
		if r.Problem == string(metrics.Regression) {
			pm.Residuals, err = r.residuals(m)
		} else if hasPredictions(m) {
			hard := withHardScores(m, r.Classes)
			if hard.Output == "labels" {
				pm.ROCNote = "The model gives labels only, so each curve has one point: its hit and false-alarm rates."
			}
			pm.ROC, err = r.roc(hard)
			c := r.confusion(m)
			pm.Confusion = &c
		}
		if err != nil {
			return nil, err
		}
		d.Models = append(d.Models, pm)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("rendering the report: %w", err)
	}
	return buf.Bytes(), nil
}

func anyOK(ms []Model) bool {
	for _, m := range ms {
		for _, f := range m.Folds {
			if f.OK() {
				return true
			}
		}
	}
	return false
}

func hasPredictions(m Model) bool {
	for _, f := range m.Folds {
		if len(f.Predictions) > 0 {
			return true
		}
	}
	return false
}

// withHardScores gives predictions without scores a score of 1 for the
// predicted class and 0 for the others.
func withHardScores(m Model, classes []string) Model {
	out := m
	out.Folds = make([]Fold, len(m.Folds))
	for i, f := range m.Folds {
		out.Folds[i] = f
		out.Folds[i].Predictions = make([]Prediction, len(f.Predictions))
		for j, p := range f.Predictions {
			if len(p.Scores) == 0 {
				p.Scores = make([]float64, len(classes))
				for k, c := range classes {
					if c == p.Predicted {
						p.Scores[k] = 1
					}
				}
			}
			out.Folds[i].Predictions[j] = p
		}
	}
	return out
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"f4":     func(v float64) string { return fmt.Sprintf("%.4f", v) },
	"f3":     func(v float64) string { return fmt.Sprintf("%.3f", noNegativeZero(v, 3)) },
	"signed": func(v float64) string { return fmt.Sprintf("%+.4f", v) },
	"score": func(f Fold, name string) string {
		if !f.OK() {
			return "failed"
		}
		return fmt.Sprintf("%.4f", f.Validation[name])
	},
	"summary": func(m Model, name string) *Summary {
		if s, ok := m.SummaryOf(name); ok {
			return &s
		}
		return nil
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1b1f23; margin: 0; background: #f6f8fa; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.sub { color: #57606a; margin: 0 0 16px; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 16px; margin: 12px 0; overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; text-align: right; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; color: #57606a; }
.objective { font-weight: 600; }
.flag { color: #b35900; font-weight: 600; }
.bad { background: #fff4e5; border-color: #e6a23c; }
.err { color: #b31d28; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.grid .card { margin: 0; }
.pair { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.pair .card { margin: 0; }
.pair .roc { max-width: 440px; }
.confusion td { text-align: center; min-width: 48px; border: 1px solid #fff; }
.confusion th.corner { text-align: left; font-weight: 400; }
.legend span { margin-right: 18px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
.note { color: #57606a; font-size: 12px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="sub">{{.Describe}}</p>
{{if not .Complete}}<div class="card bad"><strong>Incomplete.</strong> The scores cover the folds that finished.
<ul>{{range .Errors}}<li class="err">{{.}}</li>{{end}}</ul></div>{{end}}

{{range .Models}}{{$m := .}}
<h2>{{if gt (len $.Models) 1}}{{.Letter}}: {{end}}{{.Name}}</h2>
{{if .Output}}<p class="sub">Predictions from the serving output: {{.Output}}.</p>{{end}}
<div class="card">
<table>
<tr><th>metric</th><th>goal</th><th>validation (mean ± std)</th><th>train</th><th>gap</th>{{range .Folds}}<th>fold {{.Fold}}</th>{{end}}</tr>
{{range $.Metrics}}{{with summary $m.Model .Name}}
<tr{{if eq .Metric $.Objective}} class="objective"{{end}}><td>{{.Metric}}</td><td>{{index $.Goal .Metric}}</td><td>{{f4 .Mean}} ± {{f4 .Std}}</td><td>{{f4 .TrainMean}}</td><td{{if .Overfit}} class="flag"{{end}}>{{f3 .Gap}}{{if .Overfit}} ⚠{{end}}</td>{{$name := .Metric}}{{range $m.Folds}}<td>{{score . $name}}</td>{{end}}</tr>
{{end}}{{end}}
</table>
{{if .Flagged}}<p class="flag">⚠ Over-fitting: training scores beat validation by more than {{$.OverfitGap}} on {{range $i, $f := .Flagged}}{{if $i}}, {{end}}{{$f}}{{end}}.</p>{{end}}
{{range .Folds}}{{if .Error}}<p class="err">Fold {{.Fold}} failed: {{.Error}}</p>{{end}}{{end}}
</div>
{{if or .ROC .Confusion .Residuals}}<div class="pair">
{{if .ROC}}<div class="card roc"><h3>ROC curve{{if gt (len $.Classes) 2}}s, one class against the rest{{end}}</h3>{{.ROC}}<p class="note">Held-out rows of every fold. {{.ROCNote}}</p></div>{{end}}
{{with .Confusion}}<div class="card"><h3>Confusion matrix</h3>
<table class="confusion"><tr><th class="corner">actual ↓ predicted →</th>{{range .Classes}}<th>{{.}}</th>{{end}}<th>rows</th></tr>
{{range .Rows}}<tr><th>{{.Class}}</th>{{range .Cells}}<td style="{{.Style}}">{{.N}}</td>{{end}}<td>{{.Total}}</td></tr>{{end}}
</table><p class="note">Held-out rows of every fold; shade is the share of the actual class's rows.</p></div>{{end}}
{{if .Residuals}}<div class="card"><h3>Residuals, held-out rows of every fold</h3>{{.Residuals}}</div>{{end}}
</div>{{end}}
{{end}}

{{if .Comparison}}
<h2>A vs B: paired t-test over the folds</h2>
<div class="card">
<table>
<tr><th>metric</th><th>A</th><th>B</th><th>A − B (mean ± std)</th><th>t</th><th>p</th><th>verdict</th></tr>
{{range .Comparison}}<tr{{if eq .Metric $.Objective}} class="objective"{{end}}><td>{{.Metric}}</td><td>{{f4 .MeanA}}</td><td>{{f4 .MeanB}}</td><td>{{signed .MeanDiff}} ± {{f4 .StdDiff}}</td><td>{{f3 .T}}</td><td>{{f4 .P}}</td>
<td>{{if and .Note (eq .DF 0)}}{{.Note}}{{else if and .Significant .Better}}<strong>significant</strong>: {{.Better}} is better{{else}}no significant difference{{end}}</td></tr>
{{end}}</table>
<p class="note">Two-sided, alpha {{.Alpha}}, on the folds both models finished. Folds share training rows, so the test is somewhat optimistic.</p>
</div>
{{end}}

{{if .Bars}}
<h2>Per fold</h2>
<p class="legend">{{range .Legend}}<span><i style="{{.Colour}}"></i>{{.Label}}</span>{{end}}</p>
<div class="grid">{{range .Bars}}<div class="card">{{.}}</div>{{end}}</div>
{{end}}

<h2>Metrics</h2>
<div class="card"><table>
<tr><th>metric</th><th>goal</th><th style="text-align:left">meaning</th></tr>
{{range .Docs}}<tr><td>{{.Name}}</td><td>{{.Direction}}</td><td style="text-align:left;white-space:normal">{{.Doc}}</td></tr>{{end}}
</table>
<p class="note">{{if .Objective}}The objective is {{.Objective}} (in bold). {{end}}Gap: how much worse validation is than training; the difference for metrics bounded to [0, 1], else relative to the validation score. Std is the sample standard deviation over folds.</p></div>
<p class="note">Generated by sagekit evaluate, {{.Finished.Format "2006-01-02 15:04 MST"}}.</p>
</main>
</body>
</html>
`))
