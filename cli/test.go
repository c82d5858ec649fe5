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

	"github.com/sagekit/sagekit/conformance"
)

func init() { register(newTestCmd) }

type testOptions struct {
	image            string
	list             bool
	gpu              bool
	payload          string
	contentType      string
	accept           string
	expectStatus     int
	expectBody       string
	data             []string
	hyperparameters  []string
	networkIsolation bool
	rules, skip      []string
	toolkit          []string
	reports          reportFlags
	startupTimeout   time.Duration
	progress         progressFlag
	quiet            bool
}

func newTestCmd() *cobra.Command {
	var o testOptions
	cmd := &cobra.Command{
		Use:   "test IMAGE",
		Short: "Check an image against the SageMaker container contract",
		Long: `Plays SageMaker against IMAGE (an image in the local Docker Engine): runs
"IMAGE train" the way a training job does, then "IMAGE serve" with the trained
model mounted read-only, polls /ping with SageMaker's limits, sends invocations,
and checks the image config and files. Prints one line per rule with how to fix
what fails; exits 1 when a must-rule fails.

--list prints every rule. docs/conformance.md describes how each is checked.
--junit, --json and --html write reports; "-" writes one to stdout (the
table then goes to stderr). The HTML report is one self-contained page.`,
		Example: `  sagekit test my-algo
  sagekit test my-algo --data training=local/input/data/training --payload local/payload.csv --content-type text/csv
  sagekit test my-algo --rules C-IN --skip C-IN-13 --junit report.xml --html report.html
  sagekit test my-algo --json - | jq .summary
  sagekit test --list`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.list {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.image = args[0]
			}
			if o.quiet {
				o.progress.mode = progressQuiet
			}
			if _, err := o.progress.resolve(cmd.ErrOrStderr()); err != nil {
				return badFlags(cmd, err)
			}
			if err := o.reports.check(); err != nil {
				return badFlags(cmd, err)
			}
			return runTest(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "a must-rule failed, or the run could not be carried out (no Docker Engine, IMAGE not in it)")
	f := cmd.Flags()
	f.BoolVar(&o.list, "list", false, "print the rules and exit")
	f.BoolVar(&o.gpu, "gpu", false, "use the gpu profile: GPU rules apply; runs attach every GPU (skipped without a GPU runtime)")
	f.StringVar(&o.payload, "payload", "", "file holding the sample request body (default: three rows of four numbers, text/csv)")
	f.StringVar(&o.contentType, "content-type", "", "content type of --payload")
	f.StringVar(&o.accept, "accept", "", "Accept header of the sample request")
	f.IntVar(&o.expectStatus, "expect-status", 0, "status the sample request must get (default: any 2xx)")
	f.StringVar(&o.expectBody, "expect-body-contains", "", "text the sample response must contain")
	f.StringArrayVar(&o.data, "data", nil, "training channel from a directory, CHANNEL=DIR (repeatable; default: the payload's rows, labelled in column 0, in channel training)")
	f.StringArrayVar(&o.hyperparameters, "hyperparameter", nil, "hyperparameter K=V for the training job (repeatable)")
	f.BoolVar(&o.networkIsolation, "network-isolation", false, "run the training job whose model is served with no network")
	f.StringSliceVar(&o.rules, "rules", nil, "only these rule ids or prefixes (e.g. C-IN,C-TR-05)")
	f.StringSliceVar(&o.skip, "skip", nil, "leave out these rule ids or prefixes")
	f.StringSliceVar(&o.toolkit, "toolkit", nil, "claim toolkit compatibility: training, inference (as the label dev.sagekit.toolkit does)")
	o.reports.add(cmd, "junit", "a JUnit XML report")
	o.reports.add(cmd, "json", "a JSON report")
	o.reports.add(cmd, "html", "a self-contained HTML report")
	f.DurationVar(&o.startupTimeout, "startup-timeout", conformance.DefaultWindows().StartupTimeout, "deadline for the first 200 from /ping (SageMaker: 4m, 60s-1h)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines (as --progress quiet)")
	o.progress.register(cmd)
	cmd.ValidArgsFunction = completeImages
	cmd.RegisterFlagCompletionFunc("rules", completeRules)
	cmd.RegisterFlagCompletionFunc("skip", completeRules)
	cmd.RegisterFlagCompletionFunc("data", completeChannels)
	cmd.RegisterFlagCompletionFunc("toolkit", cobra.FixedCompletions([]string{"training", "inference"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagFilename("payload")
	return cmd
}

func runTest(ctx context.Context, stdout, stderr io.Writer, o testOptions) error {
	if o.list {
		return conformance.WriteRules(stdout)
	}
	opts, err := o.conformanceOptions()
	if err != nil {
		return &UsageError{Command: "sagekit test", Err: err}
	}
	mode, err := o.progress.resolve(stderr)
	if err != nil {
		return &UsageError{Command: "sagekit test", Err: err}
	}
	backend, err := containerBackendFromEnv(os.Getenv)
	if err != nil {
		return &UsageError{Command: "sagekit test", Err: err}
	}
	switch mode {
	case progressQuiet:
	case progressRawJSON:
		j := &jsonLines{w: stderr}
		opts = append(opts, conformance.WithEvents(func(e conformance.Event) { j.write(testEvent(e)) }))
	default:
		fmt.Fprintf(stderr, "sagekit test %s\n", o.image)
		opts = append(opts, conformance.WithEvents(conformance.Progress(stderr)))
	}
	eng, err := openEngine(ctx, backend, progressLogger(mode, stderr))
	if err != nil {
		return err
	}
	defer eng.Close()
	rep, err := conformance.Check(ctx, o.image, append(opts, conformance.WithClient(eng.dc), conformance.WithEngineOptions(eng.options()...))...)
	if errors.Is(err, conformance.ErrUnknownRule) {
		return &UsageError{Command: "sagekit test", Err: err}
	}
	if err != nil {
		return err
	}
	if err := rep.WriteTable(o.reports.table(stdout, stderr)); err != nil {
		return err
	}
	err = errors.Join(
		o.reports.write(stdout, "junit", rep.WriteJUnit),
		o.reports.write(stdout, "json", rep.WriteJSON),
		o.reports.write(stdout, "html", rep.WriteHTML))
	if err != nil {
		return err
	}
	if !rep.Passed() {
		return &ExitError{Code: 1}
	}
	return nil
}

// testEvent is a conformance event as a rawjson progress line.
func testEvent(e conformance.Event) map[string]any {
	m := map[string]any{"kind": e.Kind}
	if e.Play != "" {
		m["play"] = e.Play
	}
	if e.Elapsed > 0 {
		m["elapsed_s"] = e.Elapsed.Seconds()
	}
	if e.Err != nil {
		m["error"] = e.Err.Error()
	}
	if e.Result != nil {
		m["result"] = e.Result
	}
	return m
}

func (o testOptions) conformanceOptions() ([]conformance.Option, error) {
	opts := []conformance.Option{
		conformance.WithGPU(o.gpu),
		conformance.WithNetworkIsolation(o.networkIsolation),
		conformance.WithStartupTimeout(o.startupTimeout),
	}
	if o.payload != "" {
		if o.contentType == "" {
			return nil, errors.New("--payload needs --content-type (for example --content-type text/csv)")
		}
		b, err := os.ReadFile(o.payload)
		if err != nil {
			return nil, fmt.Errorf("reading --payload: %w", err)
		}
		opts = append(opts, conformance.WithPayload(b, o.contentType))
	} else if o.contentType != "" {
		return nil, errors.New("--content-type needs --payload FILE")
	}
	if o.accept != "" {
		opts = append(opts, conformance.WithAccept(o.accept))
	}
	if o.expectStatus != 0 {
		opts = append(opts, conformance.WithExpectStatus(o.expectStatus))
	}
	if o.expectBody != "" {
		opts = append(opts, conformance.WithExpectBodyContains(o.expectBody))
	}
	for _, d := range o.data {
		ch, dir, ok := strings.Cut(d, "=")
		if !ok || ch == "" || dir == "" {
			return nil, fmt.Errorf("--data %q: want CHANNEL=DIR (for example train=./data)", d)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--data %s: %s is not a directory", d, dir)
		}
		opts = append(opts, conformance.WithData(ch, dir))
	}
	hp, err := kvMap("--hyperparameter", o.hyperparameters)
	if err != nil {
		return nil, err
	}
	if len(hp) > 0 {
		opts = append(opts, conformance.WithHyperparameters(hp))
	}
	if len(o.rules) > 0 {
		opts = append(opts, conformance.WithRules(o.rules...))
	}
	if len(o.skip) > 0 {
		opts = append(opts, conformance.WithSkip(o.skip...))
	}
	for _, t := range o.toolkit {
		switch t {
		case "training":
			opts = append(opts, conformance.WithToolkit(conformance.ClaimToolkitTraining))
		case "inference":
			opts = append(opts, conformance.WithToolkit(conformance.ClaimToolkitInference))
		default:
			return nil, fmt.Errorf("--toolkit %q: want training or inference", t)
		}
	}
	return opts, nil
}
