// Package split reads a CSV data set, cuts it into deterministic holdout or
// k-fold splits (optionally stratified on the label), and writes each split
// as SageMaker channels: the full rows for training and validation, and the
// rows without the label column for batch transform.
package split
