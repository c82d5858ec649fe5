// Package report holds the result of an evaluation and renders it: a text
// table, JSON, and a self-contained HTML page (no network) with per-fold
// bars, ROC curves and a confusion matrix for classifiers and a residual
// plot for regression, drawn as SVG with gonum/plot.
package report
