package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/local/training"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/remote"
	"github.com/sagekit/sagekit/sdk/optml"
)

// runTrainOptions are the flags of `sagekit run train`.
type runTrainOptions struct {
	commonRunOptions
	hosts              int
	data               []string
	hyperparameters    []string
	hyperparameterFile string
	output             string
	networkIsolation   bool
	maxRuntime         time.Duration
	remote             remoteTrainOptions
}

func newRunTrainCmd() *cobra.Command {
	var o runTrainOptions
	cmd := &cobra.Command{
		Use:   "train IMAGE",
		Short: "Run a training job locally",
		Long: `Runs "IMAGE train" as a SageMaker training job: /opt/ml/input laid out with
hyperparameters.json, inputdataconfig.json and resourceconfig.json, channels
mounted read-only, one container per host (algo-1..algo-N on a private network).
Prints the container logs as they come, then packs /opt/ml/model into
OUTPUT/model.tar.gz and /opt/ml/output/data into OUTPUT/output.tar.gz, and copies
/opt/ml/output/failure to OUTPUT/failure. Exits 1 when the job failed.

IMAGE must be in the local Docker Engine (sagekit build makes it); --pull
pulls it from its registry instead.`,
		Example: `  sagekit run train my-algo --data training=local/input/data/training
  sagekit run train my-algo --data training=./data --hyperparameter max_depth=5 -o out
  sagekit run train my-algo --data training=./data --hyperparameters hp.json --hosts 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.resolve(cmd, args); err != nil {
				return err
			}
			if handled, err := dispatchTrain(cmd, o); handled {
				return err
			}
			job, err := o.job()
			if err == nil { // the request's own checks, before anything starts
				_, err = o.request(job, o.output)
			}
			if err != nil {
				return badFlags(cmd, err)
			}
			return runTrain(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "the training job failed (OUTPUT/failure holds the reason), or IMAGE is not in the Docker Engine")
	o.flags(cmd)
	f := cmd.Flags()
	f.IntVar(&o.hosts, "hosts", 1, "instance count: hosts algo-1..algo-N")
	f.StringArrayVar(&o.data, "data", nil, "channel from a directory, CHANNEL=DIR, mounted read-only at /opt/ml/input/data/CHANNEL (repeatable; SageMaker: CHANNEL=s3://BUCKET/PREFIX)")
	f.StringArrayVar(&o.hyperparameters, "hyperparameter", nil, "hyperparameter K=V (repeatable; wins over --hyperparameters)")
	f.StringVar(&o.hyperparameterFile, "hyperparameters", "", "FILE holding a JSON object of hyperparameters, as hyperparameters.json, e.g. {\"max_depth\": \"5\"} (non-string values are passed as their JSON text)")
	cmd.MarkFlagFilename("hyperparameters", "json")
	cmd.RegisterFlagCompletionFunc("data", completeChannels)
	f.StringVarP(&o.output, "output", "o", "output", "directory receiving model.tar.gz, output.tar.gz and failure (SageMaker: s3://BUCKET/PREFIX, required)")
	f.BoolVar(&o.networkIsolation, "network-isolation", false, "no outbound network (hosts still reach each other)")
	f.DurationVar(&o.maxRuntime, "max-runtime", 0, "stop the job with SIGTERM (SIGKILL 120s later) after this long (default: no limit)")
	o.sageMakerFlags(cmd)
	return cmd
}

func (o runTrainOptions) job() (platform.TrainingJob, error) {
	if o.hosts < 1 {
		return platform.TrainingJob{}, fmt.Errorf("--hosts %d: want 1 or more", o.hosts)
	}
	env, err := parseEnv(o.env)
	if err != nil {
		return platform.TrainingJob{}, err
	}
	hp := optml.Hyperparameters{}
	if o.hyperparameterFile != "" {
		if hp, err = readHyperparameters(o.hyperparameterFile); err != nil {
			return platform.TrainingJob{}, err
		}
	}
	if err := parseKV("--hyperparameter", o.hyperparameters, hp); err != nil {
		return platform.TrainingJob{}, err
	}
	job := platform.TrainingJob{
		Image:            o.image,
		Hosts:            o.hosts,
		Env:              env,
		NetworkIsolation: o.networkIsolation,
		GPU:              o.gpu,
		MaxRuntime:       o.maxRuntime,
		Layout:           optml.Layout{Hyperparameters: hp},
		ChannelDirs:      map[string]string{},
	}
	for _, d := range o.data {
		ch, dir, ok := strings.Cut(d, "=")
		if !ok || ch == "" || dir == "" {
			return job, fmt.Errorf("--data %q: want CHANNEL=DIR (for example train=./data)", d)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return job, fmt.Errorf("--data %s: %s is not a directory", d, dir)
		}
		// The platform lists it in inputdataconfig.json (File mode).
		job.ChannelDirs[ch] = dir
	}
	return job, nil
}

// readHyperparameters reads --hyperparameters FILE, a JSON object;
// SageMaker takes only strings, so other values become their JSON text (3,
// true, [1,2]), as optml reads hyperparameters.json.
func readHyperparameters(path string) (optml.Hyperparameters, error) {
	hp, err := optml.LoadHyperparametersFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --hyperparameters: %w (want a JSON object such as {\"epochs\": \"10\"})", err)
	}
	return hp, nil
}

func runTrain(ctx context.Context, stdout, stderr io.Writer, o runTrainOptions) error {
	job, err := o.job()
	if err != nil {
		return err
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	log := o.logger(stderr)
	if err := ensureRunImages(ctx, o.labels, []string{o.image}, o.pull, log); err != nil {
		return err
	}
	if err := os.MkdirAll(o.output, 0o755); err != nil {
		return fmt.Errorf("creating --output: %w", err)
	}
	// The engine writes OutputPath/JOB/output/*.tar.gz: a folder inside
	// --output, so the artifacts are renamed into place.
	upload, err := runTemp(o.output, ".sagekit-train-", log)
	if err != nil {
		return fmt.Errorf("creating --output: %w", err)
	}
	defer os.RemoveAll(upload)
	req, err := o.request(job, upload)
	if err != nil {
		return err
	}
	obs := &trainWatcher{stdout: stdout, stderr: stderr, prefix: o.hosts > 1, streamed: map[string]bool{}}
	opts := []local.Option{local.WithLabels(labels), local.WithGPU(o.gpu), local.WithTrainingObserver(obs), local.WithShutdownWait(0)}
	return onLocalServer(ctx, o.commonRunOptions, "sagekit-train-", "training job", log, opts, func(srv *local.Server) error {
		return trainOn(ctx, stdout, srv, req, obs, o, upload, log)
	})
}

// request is the CreateTrainingJob request of the flags: channels and
// OutputPath as file:// URIs.
func (o runTrainOptions) request(job platform.TrainingJob, output string) (*sagemaker.CreateTrainingJobInput, error) {
	rj := remote.TrainingJob{
		Name:            remote.JobName(o.image, time.Now()),
		Image:           o.image,
		Role:            localRole,
		InstanceCount:   o.hosts,
		Hyperparameters: job.Layout.Hyperparameters,
		Env:             job.Env,
		MaxRun:          o.maxRuntime,
		// --network-isolation leaves the hosts on their own network.
		NetworkIsolation: o.networkIsolation,
		LocalFiles:       true,
	}
	var err error
	if rj.Output, err = dataURI("--output", output, true); err != nil {
		return nil, err
	}
	chans := slices.Sorted(maps.Keys(job.ChannelDirs))
	for _, ch := range chans {
		uri, err := dataURI("--data "+ch, job.ChannelDirs[ch], true)
		if err != nil {
			return nil, err
		}
		rj.Channels = append(rj.Channels, remote.Channel{Name: ch, S3URI: uri})
	}
	in, err := rj.Input()
	if err != nil {
		return nil, err
	}
	if o.maxRuntime == 0 { // no limit, unlike SageMaker's default
		in.StoppingCondition = nil
	}
	return in, nil
}

// trainOn runs the training job on srv, through its API, and renders it
// as 'sagekit run train' always has.
func trainOn(ctx context.Context, stdout io.Writer, srv *local.Server, req *sagemaker.CreateTrainingJobInput, obs *trainWatcher, o runTrainOptions, upload string, log *slog.Logger) error {
	sm := localSageMaker(srv)
	name := aws.ToString(req.TrainingJobName)
	log.Info("starting the training job", "image", o.image, "hosts", o.hosts)
	if _, err := sm.CreateTrainingJob(ctx, req); err != nil {
		return interrupted(ctx, localRequestError("creating training job "+name, err))
	}
	var d *sagemaker.DescribeTrainingJobOutput
	for {
		var err error
		d, err = sm.DescribeTrainingJob(ctx, &sagemaker.DescribeTrainingJobInput{TrainingJobName: aws.String(name)})
		if err != nil {
			return interrupted(ctx, fmt.Errorf("describing training job %s: %w", name, err))
		}
		if remote.TrainingDone(d.TrainingJobStatus) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	tr := obs.result()
	if tr == nil { // the job ended before its hosts ran
		return &ExitError{Code: 1, Err: fmt.Errorf("training job %s failed: %s", name, aws.ToString(d.FailureReason))}
	}
	for _, h := range tr.Hosts {
		if !obs.wasStreamed(h.Host) && len(h.Logs) > 0 {
			fmt.Fprintf(stdout, "--- %s logs ---\n%s", h.Host, h.Logs)
		}
	}
	uploaded := filepath.Join(upload, name, "output")
	for _, f := range []string{"model.tar.gz", "output.tar.gz"} {
		if err := os.Rename(filepath.Join(uploaded, f), filepath.Join(o.output, f)); err != nil {
			return fmt.Errorf("moving %s into --output: %w (the job ended %s: %s)", f, err, d.TrainingJobStatus, aws.ToString(d.FailureReason))
		}
	}
	model := filepath.Join(o.output, "model.tar.gz")
	failurePath := filepath.Join(o.output, optml.FailureFile)
	os.Remove(failurePath)
	reason := tr.FailureReason()
	for _, h := range tr.Hosts {
		if h.HasFailureFile {
			if err := optml.WriteFileAtomic(failurePath, []byte(h.Failure), 0o644); err != nil {
				return err
			}
			break
		}
	}
	for _, h := range tr.Hosts {
		status := fmt.Sprintf("exit %d", h.ExitCode)
		if h.StartErr != nil {
			status = "did not start: " + h.StartErr.Error()
		}
		log.Info("host finished", "host", h.Host, "status", status, "took", h.Duration.Round(10*time.Millisecond))
	}
	if reason != "" {
		return &ExitError{Code: 1, Err: fmt.Errorf("training job %s failed: %s", name, reason)}
	}
	log.Info("training job completed", "job", name, "model", model)
	return nil
}

// trainWatcher sees the engine's training job from inside: each host's
// output, printed as it comes (prefixed by the host when there are
// several), and the hosts' result.
type trainWatcher struct {
	stdout, stderr io.Writer
	prefix         bool

	mu       sync.Mutex
	streamed map[string]bool
	tr       *platform.Training
}

var _ training.Observer = (*trainWatcher)(nil)

func (w *trainWatcher) HostOutput(_, host string) (io.Writer, io.Writer) {
	w.mu.Lock()
	w.streamed[host] = true
	w.mu.Unlock()
	var out io.Writer = &lockedWriter{mu: &w.mu, w: w.stdout}
	var errw io.Writer = &lockedWriter{mu: &w.mu, w: w.stderr}
	if w.prefix {
		out = &prefixWriter{prefix: host + " | ", w: out}
		errw = &prefixWriter{prefix: host + " | ", w: errw}
	}
	return out, errw
}

func (w *trainWatcher) Ended(_ string, tr *platform.Training) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tr = tr
}

func (w *trainWatcher) result() *platform.Training {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tr
}

func (w *trainWatcher) wasStreamed(host string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streamed[host]
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter starts every line with prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !p.mid {
			out.WriteString(p.prefix)
		}
		out.Write(line)
		p.mid = line[len(line)-1] != '\n'
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// --- run transform ---
