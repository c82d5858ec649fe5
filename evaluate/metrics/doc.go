// Package metrics computes the validation metrics of SageMaker's built-in
// algorithms, under their names and optimisation directions: accuracy, auc,
// error, f1, logloss, mae, map, merror, mlogloss, mse, ndcg and rmse, for
// binary and multiclass classification and regression. Values agree with
// scikit-learn's functions of the same meaning (see Metric.Doc); the tests
// check that against scikit-learn itself.
//
// It also parses a batch transform's output into predictions (labels,
// probabilities or score vectors) and compares two sets of per-fold scores
// with a paired t-test.
package metrics
