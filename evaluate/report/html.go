package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/sagekit/sagekit/evaluate/metrics"
)

// palette is colour-blind safe (Okabe and Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{86, 180, 233, 255},  // sky
	color.RGBA{213, 94, 0, 255},    // vermilion
	color.RGBA{240, 228, 66, 255},  // yellow
}

func colour(i int) color.Color { return palette[i%len(palette)] }

func lighter(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8)/2 + 127) }
	return color.RGBA{mix(r), mix(g), mix(b), 255}
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Title.TextStyle.Font.Size = vg.Points(11)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(9)
		a.Tick.Label.Font.Size = vg.Points(8)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Legend.Top = true
	return p
}

// svg renders p as an <svg> element to put inline in a page.
func svg(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("drawing %q: %w", p.Title.Text, err)
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	// The fonts are not embedded (that would add hundreds of kilobytes a
	// chart); Liberation Sans has Arial's metrics, so fall back to it.
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return template.HTML(s), nil
}

func init() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
}

// foldBars draws metric name for each fold: one bar per model for the
// validation score, a lighter one beside it for the training score.
func (r *Report) foldBars(name string) (template.HTML, error) {
	p := newPlot(name, "fold", "")
	var folds []string
	for _, f := range r.Models[0].Folds {
		folds = append(folds, strconv.Itoa(f.Fold))
	}
	nBars := 2 * len(r.Models)
	w := vg.Points(min(40, 180/float64(max(len(folds), 1))/float64(nBars)))
	i := 0
	for mi, m := range r.Models {
		for _, side := range []string{"validation", "train"} {
			vals := make(plotter.Values, len(folds))
			for fi, f := range m.Folds {
				if fi < len(vals) && f.OK() {
					if side == "validation" {
						vals[fi] = f.Validation[name]
					} else {
						vals[fi] = f.Train[name]
					}
				}
			}
			bc, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return "", fmt.Errorf("drawing %s: %w", name, err)
			}
			bc.LineStyle.Width = 0
			bc.Color = colour(mi)
			if side == "train" {
				bc.Color = lighter(colour(mi))
			}
			bc.Offset = w * vg.Length(float64(i)-float64(nBars-1)/2)
			p.Add(bc)
			i++
		}
	}
	p.NominalX(folds...)
	// The page shows one legend for every chart (see barLegend).
	return svg(p, 4.2*vg.Inch, 2.6*vg.Inch)
}

func modelLetter(i int) string { return string(rune('A' + i)) }

// legendEntry is one swatch of the per-fold charts' legend.
type legendEntry struct {
	Label  string
	Colour template.CSS
}

// barLegend says which bar is which in foldBars.
func (r *Report) barLegend() []legendEntry {
	var out []legendEntry
	for mi, m := range r.Models {
		for _, side := range []string{"validation", "train"} {
			c := colour(mi)
			if side == "train" {
				c = lighter(c)
			}
			rr, g, b, _ := c.RGBA()
			label := side
			if len(r.Models) > 1 {
				label = modelLetter(mi) + " (" + m.Name + ") " + side
			}
			out = append(out, legendEntry{Label: label, Colour: template.CSS(fmt.Sprintf("background:rgb(%d,%d,%d)", rr>>8, g>>8, b>>8))})
		}
	}
	return out
}

// roc draws the one-vs-rest ROC curve of each class (the positive class
// only, for binary), pooled over the held-out rows of every fold.
func (r *Report) roc(m Model) (template.HTML, error) {
	p := newPlot("", "false positive rate", "true positive rate")
	// A little room past 1, so the last tick label is not cut off.
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1.04, 0, 1.02
	diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	diag.Color = color.Gray{Y: 150}
	p.Add(diag)
	classes := make([]int, 0, len(r.Classes))
	if r.Problem == string(metrics.Binary) {
		for k, c := range r.Classes {
			if c == r.Positive {
				classes = append(classes, k)
			}
		}
	} else {
		for k := range r.Classes {
			classes = append(classes, k)
		}
	}
	for ci, k := range classes {
		var scores []float64
		var is []bool
		for _, f := range m.Folds {
			for _, pr := range f.Predictions {
				if len(pr.Scores) != len(r.Classes) {
					continue
				}
				scores = append(scores, pr.Scores[k])
				is = append(is, pr.Truth == r.Classes[k])
			}
		}
		if len(scores) == 0 {
			continue
		}
		fpr, tpr := metrics.ROC(scores, is)
		xy := make(plotter.XYs, len(fpr))
		for i := range fpr {
			xy[i].X, xy[i].Y = fpr[i], tpr[i]
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return "", fmt.Errorf("drawing the ROC curve: %w", err)
		}
		l.Color = colour(ci)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.Classes[k], l)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), vg.Points(8)
	return svg(p, 4*vg.Inch, 4*vg.Inch)
}

// residuals plots truth minus prediction against the prediction.
func (r *Report) residuals(m Model) (template.HTML, error) {
	p := newPlot("", "predicted", "actual − predicted")
	var xy plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, f := range m.Folds {
		for _, pr := range f.Predictions {
			y, err1 := strconv.ParseFloat(pr.Truth, 64)
			x, err2 := strconv.ParseFloat(pr.Predicted, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			xy = append(xy, plotter.XY{X: x, Y: y - x})
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if len(xy) == 0 {
		return "", nil
	}
	zero, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}})
	zero.Color = color.Gray{Y: 150}
	zero.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(zero)
	s, err := plotter.NewScatter(xy)
	if err != nil {
		return "", fmt.Errorf("drawing the residuals: %w", err)
	}
	s.GlyphStyle.Color = colour(0)
	s.GlyphStyle.Radius = vg.Points(2)
	p.Add(s)
	return svg(p, 5*vg.Inch, 3.2*vg.Inch)
}

// confusion is the confusion matrix pooled over the held-out rows.
type confusion struct {
	Classes []string
	Rows    []confusionRow
}

type confusionRow struct {
	Class string
	Cells []confusionCell
	Total int
}

type confusionCell struct {
	N     int
	Style template.CSS
}

func (r *Report) confusion(m Model) confusion {
	K := len(r.Classes)
	idx := map[string]int{}
	for i, c := range r.Classes {
		idx[c] = i
	}
	counts := make([][]int, K)
	for i := range counts {
		counts[i] = make([]int, K)
	}
	for _, f := range m.Folds {
		for _, p := range f.Predictions {
			t, ok1 := idx[p.Truth]
			q, ok2 := idx[p.Predicted]
			if ok1 && ok2 {
				counts[t][q]++
			}
		}
	}
	c := confusion{Classes: r.Classes}
	for t := range K {
		row := confusionRow{Class: r.Classes[t]}
		for _, n := range counts[t] {
			row.Total += n
		}
		for q, n := range counts[t] {
			share := 0.0
			if row.Total > 0 {
				share = float64(n) / float64(row.Total)
			}
			// Right answers in blue, wrong ones in orange, by share of the row.
			hue := "0,114,178"
			if q != t {
				hue = "230,159,0"
			}
			ink := "#111"
			if share > 0.6 {
				ink = "#fff"
			}
			row.Cells = append(row.Cells, confusionCell{N: n, Style: template.CSS(fmt.Sprintf("background:rgba(%s,%.2f);color:%s", hue, share, ink))})
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}
