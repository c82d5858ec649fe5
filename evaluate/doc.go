// Package evaluate validates a SageMaker image offline: it splits a data
// set into holdout or k-fold splits (package split), trains the image on
// each training split with its own `train` and sends each held-out split,
// label column removed, through its own serving as a batch transform
// (package platform), joins the predictions back to the labels and scores
// them with the metrics SageMaker's built-in algorithms report (package
// metrics). Package report renders the result as a table, JSON and a
// self-contained HTML page.
//
// The jobs of a fold go through a Runner: Local, containers on the local
// engine (package platform), or SageMaker, a training job and a batch
// transform job through package remote. Splitting, scoring and the report
// are the same for both.
//
// With a second image (Options.Compare) both are trained and scored on the
// same folds and each metric gets a paired t-test over the folds.
package evaluate
