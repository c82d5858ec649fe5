package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/evaluate"
	"github.com/sagekit/sagekit/evaluate/metrics"
	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/remote"
)

func init() { register(newEvaluateCmd) }

type evaluateOptions struct {
	evaluate.Options
	data               string
	problem            string
	hyperparameters    []string
	hyperparameterFile string
	compareHP          []string
	env                []string
	on                 string
	aws                awsFlags
	role, s3Prefix     string
	client             *remote.Client // with --on ml.*
	reports            reportFlags
	progress           progressFlag
	mode               string           // progress, resolved
	backend            containerBackend // SAGEKIT_CONTAINER_BACKEND, resolved
}

func newEvaluateCmd() *cobra.Command {
	var o evaluateOptions
	cmd := &cobra.Command{
		Use:   "evaluate IMAGE --data training=FILE|DIR --label COLUMN",
		Short: "Validate an image offline: holdout or k-fold, through its own train and serve",
		Long: `Splits the data by seed (a holdout fraction, or K folds; stratified on the label
with --stratify), trains the image on each training split with its own "train"
(the split as the training channel, the held-out rows as "validation"), sends
the held-out rows, label column removed, through its own serving as a batch
transform, and scores the predictions with the metrics SageMaker's built-in
algorithms report: accuracy, auc, error, f1, logloss, map, merror, mlogloss,
ndcg (classification), mae, mse, rmse (regression). The training rows are
scored too, and a large gap is flagged as over-fitting.

Prints a table; --json and --html write the report (the page is self-contained:
per-fold bars, ROC curve and confusion matrix, or residuals). --compare runs a
second image (or the same one with --compare-hyperparameter) on the same folds
and tests each metric's per-fold difference with a paired t-test.

Folds run locally, several at once up to --parallel (bounded by the engine's
CPUs and memory). Ctrl-C removes every container and keeps the folds that
finished.

With --on ml.* (an instance type, e.g. ml.m5.large) each fold is a SageMaker
training job, then a batch transform job, with the data, model and predictions
under --s3-prefix (or, against a server such as 'sagekit local' given by
--endpoint-url, in local file:/// directories); the predictions are downloaded
and scored the same way. Ctrl-C stops the jobs it started. docs/evaluate.md has
the details.`,
		Example: `  sagekit evaluate my-algo --data training=local/input/data/training --label 0 --folds 5
  sagekit evaluate my-algo --data iris.csv --label species --holdout 0.2 --stratify --metric validation:accuracy
  sagekit evaluate my-algo --data iris.csv --label 0 --folds 5 --compare my-algo --compare-hyperparameter max_depth=3 --html report.html
  sagekit evaluate my-algo --data iris.csv --label 0 --folds 5 --on ml.m5.large --role arn:aws:iam::123456789012:role/SageMakerExecution --s3-prefix s3://my-bucket/evaluate`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Image = args[0]
			mode, err := o.progress.resolve(cmd.ErrOrStderr())
			if err != nil {
				return badFlags(cmd, err)
			}
			o.mode = mode
			if err := o.resolve(cmd); err != nil {
				return badFlags(cmd, err)
			}
			if o.backend, err = containerBackendFromEnv(os.Getenv); err != nil {
				return badFlags(cmd, err)
			}
			if o.on != "local" {
				// Every problem with the SageMaker settings before the data
				// is read or an image pushed.
				if o.client, err = o.aws.client(cmd.Context()); err != nil {
					return err
				}
				if err := o.sageMaker().Check(o.client.Custom()); err != nil {
					return badFlags(cmd, err)
				}
			}
			return runEvaluate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "a fold failed (the table names each failure), or IMAGE is not in the Docker Engine")
	o.aws.flags(cmd)
	o.progress.register(cmd)
	cmd.RegisterFlagCompletionFunc("data", completeChannels)
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "the data: CHANNEL=FILE|DIR (the training channel's name, default training) or FILE|DIR; CSV, a directory's files read in order")
	f.StringVar(&o.Label, "label", "", "label column: its header name, or its 0-based index (required)")
	f.BoolVar(&o.Header, "header", false, "the first row of each file is a header (implied when --label names a column of the first row)")
	f.Float64Var(&o.Holdout, "holdout", 0, "hold out this fraction of the rows once (default 0.25 when --folds is not given)")
	f.IntVar(&o.Folds, "folds", 0, "k-fold cross-validation with K folds, each held out once")
	f.BoolVar(&o.Stratify, "stratify", false, "keep the class proportions of the label in every split")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the shuffle: the same seed gives the same splits")
	f.StringArrayVar(&o.Metrics, "metric", nil, "metric to report, as validation:NAME or NAME (repeatable; the first is the objective; default: all that apply)")
	f.StringVar(&o.problem, "problem", "", "binary, multiclass or regression (default: from --metric, else from the labels)")
	f.StringVar(&o.Positive, "positive", "", "positive class of a binary problem (default: the second of the sorted classes)")
	f.StringArrayVar(&o.hyperparameters, "hyperparameter", nil, "hyperparameter K=V (repeatable; wins over --hyperparameters)")
	f.StringVar(&o.hyperparameterFile, "hyperparameters", "", "FILE holding a JSON object of hyperparameters, as hyperparameters.json (non-string values are passed as their JSON text)")
	f.StringVar(&o.Compare, "compare", "", "a second image trained and scored on the same folds (may be IMAGE itself with --compare-hyperparameter)")
	f.StringArrayVar(&o.compareHP, "compare-hyperparameter", nil, "hyperparameter K=V of the --compare model only (repeatable)")
	f.StringVar(&o.ContentType, "content-type", evaluate.DefaultContentType, "Content-Type of the batch transform requests")
	f.StringVar(&o.Accept, "accept", "", "Accept header of the batch transform requests")
	f.IntVar(&o.Parallel, "parallel", 0, "folds run at once (default and upper bound: the engine's CPUs, and its memory at 2 GiB a fold; on SageMaker, default: every fold)")
	f.StringVar(&o.on, "on", "local", "where to train and transform: local (the Docker Engine) or an ml.* instance type on SageMaker, e.g. ml.m5.large")
	f.StringVar(&o.role, "role", "", "SageMaker: ARN of the execution role the jobs run with")
	f.StringVar(&o.s3Prefix, "s3-prefix", "", "SageMaker: s3://BUCKET/PREFIX each fold's data, model and predictions go under (with --endpoint-url, default: local file:/// directories)")
	o.reports.add(cmd, "json", "the report as JSON")
	o.reports.add(cmd, "html", "a self-contained HTML report")
	f.Float64Var(&o.OverfitGap, "overfit-gap", evaluate.DefaultOverfitGap, "flag over-fitting when training beats validation by more than this (absolute for [0, 1] metrics, else relative)")
	f.Float64Var(&o.Alpha, "alpha", evaluate.DefaultAlpha, "significance level of the paired t-test of --compare")
	f.DurationVar(&o.StartupTimeout, "startup-timeout", platform.DefaultStartupTimeout, "deadline for the first 200 from /ping in each batch transform")
	f.StringArrayVar(&o.env, "env", nil, "environment variable K=V for the containers (repeatable)")
	f.BoolVar(&o.GPU, "gpu", false, "attach every GPU of the engine")
	cmd.MarkFlagRequired("data")
	cmd.MarkFlagRequired("label")
	return cmd
}

func (o *evaluateOptions) sageMaker() evaluate.SageMakerOptions {
	return evaluate.SageMakerOptions{Role: o.role, InstanceType: o.on, Prefix: o.s3Prefix}
}

// sageMakerOnly are the flags that mean nothing to a local evaluation.
var sageMakerOnly = []string{"role", "s3-prefix", "region", "profile", "endpoint-url"}

func (o *evaluateOptions) resolve(cmd *cobra.Command) error {
	switch {
	case o.on == "local":
		for _, n := range sageMakerOnly {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s applies to evaluations on SageMaker: add --on ml.… (for example ml.m5.large)", n)
			}
		}
	case strings.HasPrefix(o.on, "ml."):
		if o.GPU {
			return errors.New("--gpu is for local runs: on SageMaker the instance type brings the GPUs (ml.g5.xlarge, ml.p4d.24xlarge...)")
		}
		if cmd.Flags().Changed("startup-timeout") {
			return errors.New("--startup-timeout is for local runs: SageMaker's batch transform has its own")
		}
	default:
		return fmt.Errorf("--on %q: want local, or an ml.* instance type such as ml.m5.large", o.on)
	}
	if ch, path, ok := strings.Cut(o.data, "="); ok {
		if ch == "" || path == "" {
			return fmt.Errorf("--data %q: want CHANNEL=FILE|DIR or FILE|DIR", o.data)
		}
		o.Channel, o.Data = ch, path
	} else {
		o.Data = o.data
	}
	if o.problem != "" {
		p, err := metrics.ParseProblem(o.problem)
		if err != nil {
			return fmt.Errorf("--problem: %w", err)
		}
		o.Problem = p
	}
	var err error
	if o.Env, err = parseEnv(o.env); err != nil {
		return err
	}
	o.Hyperparameters = map[string]string{}
	if o.hyperparameterFile != "" {
		hp, err := readHyperparameters(o.hyperparameterFile)
		if err != nil {
			return err
		}
		for k, v := range hp {
			o.Hyperparameters[k] = v
		}
	}
	if err := parseKV("--hyperparameter", o.hyperparameters, o.Hyperparameters); err != nil {
		return err
	}
	if len(o.compareHP) > 0 {
		if o.Compare == "" {
			o.Compare = o.Image
		}
		o.CompareHyperparameters = map[string]string{}
		if err := parseKV("--compare-hyperparameter", o.compareHP, o.CompareHyperparameters); err != nil {
			return err
		}
	}
	if o.Folds > 0 && o.Holdout > 0 {
		return errors.New("--folds and --holdout: give one")
	}
	return o.reports.check()
}

func runEvaluate(ctx context.Context, stdout, stderr io.Writer, o evaluateOptions) error {
	table := o.reports.table(stdout, stderr)
	jsonPath, htmlPath := o.reports.path("json"), o.reports.path("html")
	// Partial results are written as each fold ends, so an interrupted or
	// failing run keeps what it finished.
	write := func(r *report.Report) error {
		var errs []error
		if jsonPath != "" && jsonPath != "-" {
			errs = append(errs, r.WriteJSON(jsonPath))
		}
		if htmlPath != "" && htmlPath != "-" {
			errs = append(errs, r.WriteHTML(htmlPath))
		}
		return errors.Join(errs...)
	}
	o.OnFold = func(r *report.Report) {
		if err := write(r); err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	}
	events := &jsonLines{w: stderr}
	o.OnEvent = func(ev evaluate.Event) {
		who := ev.Model
		switch o.mode {
		case progressQuiet:
			return
		case progressRawJSON:
			m := map[string]any{"stage": ev.Stage, "model": ev.Model, "fold": ev.Fold, "folds": ev.Folds}
			if ev.Err != nil {
				m["error"] = ev.Err.Error()
			}
			if ev.Stage == evaluate.StageDone {
				m["objective"], m["score"], m["elapsed_s"] = ev.Objective, ev.Score, ev.Elapsed.Seconds()
			}
			events.write(m)
			return
		}
		switch ev.Stage {
		case evaluate.StageNote:
			fmt.Fprintf(stderr, "note: %v\n", ev.Err)
		case evaluate.StageTrain:
			fmt.Fprintf(stderr, "fold %d/%d %s: training\n", ev.Fold, ev.Folds, who)
		case evaluate.StageTransform:
			fmt.Fprintf(stderr, "fold %d/%d %s: batch transform of the held-out and training rows\n", ev.Fold, ev.Folds, who)
		case evaluate.StageDone:
			fmt.Fprintf(stderr, "fold %d/%d %s: validation %s %.4f (%s)\n", ev.Fold, ev.Folds, who, ev.Objective, ev.Score, ev.Elapsed.Round(100*time.Millisecond))
		case evaluate.StageFailed:
			fmt.Fprintf(stderr, "fold %d/%d %s: FAILED: %v\n", ev.Fold, ev.Folds, who, ev.Err)
		}
	}
	var rep *report.Report
	var runErr error
	stopped := "containers removed"
	if o.on == "local" {
		e, done, err := runEngine(ctx, o.backend, nil, progressLogger(o.mode, stderr))
		if err != nil {
			return err
		}
		defer done()
		rep, runErr = evaluate.Run(ctx, e, o.Options)
	} else {
		so := o.sageMaker()
		so.Image = func(ctx context.Context, image string) (string, error) {
			return sageMakerImage(ctx, stderr, o.client, image, remoteRunOptions{aws: o.aws})
		}
		rep, runErr = evaluate.RunOn(ctx, evaluate.SageMaker(o.client, so), o.Options)
		stopped = "the SageMaker jobs it started are stopped"
	}
	if rep == nil {
		if o.on == "local" {
			return interrupted(ctx, runErr)
		}
		if ctx.Err() != nil && errors.Is(runErr, ctx.Err()) {
			return &ExitError{Code: 130, Err: errors.New("interrupted; " + stopped)}
		}
		return runErr
	}
	if err := write(rep); err != nil {
		return err
	}
	if jsonPath == "-" {
		b, err := rep.MarshalIndent()
		if err != nil {
			return err
		}
		if _, err := stdout.Write(b); err != nil {
			return err
		}
	}
	if htmlPath == "-" {
		b, err := rep.HTML()
		if err != nil {
			return err
		}
		if _, err := stdout.Write(b); err != nil {
			return err
		}
	}
	fmt.Fprintln(table)
	if err := rep.WriteTable(table); err != nil {
		return err
	}
	switch {
	case runErr == nil:
		return nil
	case ctx.Err() != nil:
		return &ExitError{Code: 130, Err: errors.New("interrupted; " + stopped + ", the folds that finished are in the report")}
	case errors.Is(runErr, evaluate.ErrIncomplete):
		// The table above lists each failure.
		failed, total := 0, 0
		for _, m := range rep.Models {
			for _, f := range m.Folds {
				total++
				if !f.OK() {
					failed++
				}
			}
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("evaluation incomplete: %d of %d folds failed (see above)", failed, total)}
	}
	return runErr
}
