// Package training runs SageMaker training jobs for sagekit local: it
// keeps each job's record (DescribeTrainingJob's answer) in the store,
// fetches channels, runs the hosts through platform, reads metrics from
// the logs and stores model.tar.gz under OutputPath/JOB/output/.
package training

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/logs"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Statuses of a training job.
const (
	InProgress = "InProgress"
	Completed  = "Completed"
	Failed     = "Failed"
	Stopping   = "Stopping"
	Stopped    = "Stopped"
)

// interrupted is the FailureReason of a job that sagekit local's exit cut
// short.
const interrupted = "sagekit local stopped while the job ran; its containers were removed"

// Manager runs training jobs. Its methods are safe for concurrent use.
type Manager struct {
	// ctx is the server's life: jobs still running when it ends have
	// their containers removed and are marked Failed.
	ctx    context.Context
	st     *store.Store
	engine *platform.Engine
	mover  *data.Mover
	dir    string
	log    *slog.Logger
	// grace is the SIGTERM→SIGKILL window of StopTrainingJob.
	grace time.Duration
	// logs receives each host's output as it is written.
	logs *logs.Store
	// gpu attaches every GPU of the engine to each host.
	gpu bool
	// observer, when not nil, sees each host's output and each result.
	observer Observer

	// closing is set by StopAll: jobs it stops end Failed, not Stopped.
	closing atomic.Bool

	mu      sync.Mutex
	running map[string]*run
	wg      sync.WaitGroup
}

type run struct {
	stop     chan struct{}
	stopOnce sync.Once
}

// Options configure a Manager.
type Options struct {
	// Context is the server's life (see Manager.ctx).
	Context context.Context
	Store   *store.Store
	Engine  *platform.Engine
	Mover   *data.Mover
	// Dir holds each job's working directories.
	Dir string
	Log *slog.Logger
	// StopGrace is the SIGTERM→SIGKILL window (default 120 s).
	StopGrace time.Duration
	// Logs receives each host's output, in /aws/sagemaker/TrainingJobs,
	// stream JOB/algo-N-<epoch seconds> (default: a store of its own).
	Logs *logs.Store
	// GPU attaches every GPU of the engine to each host (default none).
	GPU bool
	// Observer sees each job's hosts as they run and their result
	// (default none).
	Observer Observer
}

// Observer follows training jobs from inside the engine, for a client in
// the same process (sagekit run train) that renders them as they happen.
type Observer interface {
	// HostOutput returns where a host's stdout and stderr go besides the
	// job's log stream; a nil writer sends that stream nowhere else.
	HostOutput(job, host string) (stdout, stderr io.Writer)
	// Ended is given the hosts' result once they have ended, before the
	// job's status becomes final; the result's files are removed after.
	Ended(job string, tr *platform.Training)
}

// New returns a Manager. Jobs a previous process left InProgress or
// Stopping are marked Failed: their containers went with that process.
func New(o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.StopGrace <= 0 {
		o.StopGrace = optml.TrainingStopGraceSeconds * time.Second
	}
	if o.Logs == nil {
		o.Logs = logs.New()
	}
	m := &Manager{ctx: o.Context, st: o.Store, engine: o.Engine, mover: o.Mover, dir: o.Dir, log: o.Log, grace: o.StopGrace, logs: o.Logs, gpu: o.GPU, observer: o.Observer, running: map[string]*run{}}
	var orphans []Job
	err := o.Store.Each(store.TrainingJobs, func(_ string, raw []byte) bool {
		var j Job
		if json.Unmarshal(raw, &j) == nil && (j.TrainingJobStatus == InProgress || j.TrainingJobStatus == Stopping) {
			orphans = append(orphans, j)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading training jobs: %w", err)
	}
	for _, j := range orphans {
		now := wire.Now()
		j.TrainingJobStatus, j.FailureReason = Failed, interrupted
		j.LastModifiedTime, j.TrainingEndTime = now, now
		j.transition(Failed, j.FailureReason)
		if err := o.Store.Put(store.TrainingJobs, j.TrainingJobName, &j); err != nil {
			return nil, fmt.Errorf("marking training job %s failed: %w", j.TrainingJobName, err)
		}
	}
	return m, nil
}

func (j *Job) transition(status, msg string) {
	now := wire.Now()
	if n := len(j.SecondaryStatusTransitions); n > 0 && j.SecondaryStatusTransitions[n-1].EndTime == nil {
		j.SecondaryStatusTransitions[n-1].EndTime = now
	}
	t := Transition{Status: status, StartTime: now, StatusMessage: msg}
	if slices.Contains([]string{Completed, Failed, Stopped, "MaxRuntimeExceeded"}, status) {
		t.EndTime = now
	}
	j.SecondaryStatusTransitions = append(j.SecondaryStatusTransitions, t)
	j.SecondaryStatus = status
	j.LastModifiedTime = now
}

// Create records the job and starts it; the job runs until it ends or
// the server stops.
func (m *Manager) Create(ctx context.Context, r CreateRequest) (string, *wire.Error) {
	if e := r.check(); e != nil {
		return "", e
	}
	if _, err := m.engine.Client().ImageInspect(ctx, r.AlgorithmSpecification.TrainingImage); err != nil {
		return "", wire.Validation("AlgorithmSpecification.TrainingImage %q is not an image of the local container engine: build or load it first (%v)", r.AlgorithmSpecification.TrainingImage, err)
	}
	now := wire.Now()
	j := &Job{
		TrainingJobName:        r.TrainingJobName,
		TrainingJobArn:         wire.ARN("training-job", r.TrainingJobName),
		TrainingJobStatus:      InProgress,
		HyperParameters:        r.HyperParameters,
		AlgorithmSpecification: r.AlgorithmSpecification,
		RoleArn:                r.RoleArn,
		InputDataConfig:        r.InputDataConfig,
		OutputDataConfig:       r.OutputDataConfig,
		ResourceConfig:         r.ResourceConfig,
		StoppingCondition:      r.StoppingCondition,
		CreationTime:           now,
		LastModifiedTime:       now,
		EnableNetworkIsolation: r.EnableNetworkIsolation,
		Environment:            r.Environment,
		CheckpointConfig:       r.CheckpointConfig,
	}
	if j.ResourceConfig.VolumeSizeInGB == 0 {
		j.ResourceConfig.VolumeSizeInGB = 30
	}
	j.transition("Starting", "Starting the training job")
	rn := &run{stop: make(chan struct{})}
	m.mu.Lock()
	defer m.mu.Unlock()
	created, err := m.st.Create(store.TrainingJobs, j.TrainingJobName, j)
	if err != nil {
		return "", wire.Internal("recording the training job: %v", err)
	}
	if !created {
		return "", wire.InUse("Training job names must be unique within an AWS account and region, and a training job with this name already exists (%s)", j.TrainingJobArn)
	}
	m.running[j.TrainingJobName] = rn
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run(m.ctx, j, r, rn)
		m.mu.Lock()
		delete(m.running, j.TrainingJobName)
		m.mu.Unlock()
	}()
	return j.TrainingJobArn, nil
}

// Describe returns the job's record.
func (m *Manager) Describe(name string) (*Job, *wire.Error) {
	var j Job
	if err := m.st.Get(store.TrainingJobs, name, &j); err != nil {
		if err == store.ErrNotFound {
			return nil, wire.Validation("Requested resource not found: Training job %q does not exist", name)
		}
		return nil, wire.Internal("reading training job %s: %v", name, err)
	}
	return &j, nil
}

// Stop sends SIGTERM to every host of a running job (SIGKILL after the
// grace period); the job ends Stopped.
func (m *Manager) Stop(name string) *wire.Error {
	m.mu.Lock()
	rn, ok := m.running[name]
	m.mu.Unlock()
	j, e := m.Describe(name)
	if e != nil {
		return e
	}
	if !ok || (j.TrainingJobStatus != InProgress && j.TrainingJobStatus != Stopping) {
		return wire.Validation("The request was rejected because the training job is in status %s.", j.TrainingJobStatus)
	}
	rn.stopOnce.Do(func() {
		m.update(name, func(j *Job) {
			j.TrainingJobStatus = Stopping
			j.transition(Stopping, "Stopping the training job")
		})
		close(rn.stop)
	})
	return nil
}

// Summary is a ListTrainingJobs entry.
type Summary struct {
	TrainingJobName   string     `json:"TrainingJobName"`
	TrainingJobArn    string     `json:"TrainingJobArn"`
	CreationTime      *wire.Time `json:"CreationTime"`
	TrainingEndTime   *wire.Time `json:"TrainingEndTime,omitempty"`
	LastModifiedTime  *wire.Time `json:"LastModifiedTime,omitempty"`
	TrainingJobStatus string     `json:"TrainingJobStatus"`
	SecondaryStatus   string     `json:"SecondaryStatus,omitempty"`
}

// List answers ListTrainingJobs.
func (m *Manager) List(in wire.ListInput) ([]Summary, string, *wire.Error) {
	var all []Summary
	err := m.st.Each(store.TrainingJobs, func(_ string, raw []byte) bool {
		var j Job
		if json.Unmarshal(raw, &j) == nil {
			all = append(all, Summary{j.TrainingJobName, j.TrainingJobArn, j.CreationTime, j.TrainingEndTime, j.LastModifiedTime, j.TrainingJobStatus, j.SecondaryStatus})
		}
		return true
	})
	if err != nil {
		return nil, "", wire.Internal("listing training jobs: %v", err)
	}
	return wire.List(all, in, func(s Summary) wire.Listed {
		return wire.Listed{Name: s.TrainingJobName, Status: s.TrainingJobStatus, Created: s.CreationTime, Modified: s.LastModifiedTime}
	})
}

// Wait blocks until every running job has ended, or ctx ends; it reports
// whether they all ended.
func (m *Manager) Wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// StopAll stops every running job with SIGTERM (SIGKILL after the grace
// period), as on shutdown; they end Failed, saying why.
func (m *Manager) StopAll() {
	m.closing.Store(true)
	m.mu.Lock()
	var names []string
	for n := range m.running {
		names = append(names, n)
	}
	m.mu.Unlock()
	for _, n := range names {
		m.Stop(n)
	}
}

func (m *Manager) update(name string, f func(*Job)) {
	var j Job
	if err := m.st.Get(store.TrainingJobs, name, &j); err != nil {
		m.log.Error("reading training job", "job", name, "err", err)
		return
	}
	f(&j)
	if err := m.st.Put(store.TrainingJobs, name, &j); err != nil {
		m.log.Error("recording training job", "job", name, "err", err)
	}
}

func (m *Manager) run(ctx context.Context, j *Job, r CreateRequest, rn *run) {
	name := j.TrainingJobName
	work := filepath.Join(m.dir, name)
	defer os.RemoveAll(work)
	fail := func(reason string) {
		if len(reason) > optml.FailureReasonMax {
			reason = reason[:optml.FailureReasonMax]
		}
		m.update(name, func(j *Job) {
			j.TrainingJobStatus, j.FailureReason = Failed, reason
			j.TrainingEndTime = wire.Now()
			j.transition(Failed, "Training job failed")
		})
		m.log.Info("training job failed", "job", name, "reason", reason)
	}
	m.update(name, func(j *Job) { j.transition("Downloading", "Downloading input data") })
	in, err := m.inputs(ctx, r, work)
	if err != nil {
		fail(err.Error())
		return
	}
	hp := optml.Hyperparameters{}
	for k, v := range r.HyperParameters {
		hp[k] = v
	}
	var following sync.WaitGroup
	// done is closed when the hosts have ended.
	done := make(chan struct{})
	job := platform.TrainingJob{
		Image:            r.AlgorithmSpecification.TrainingImage,
		Name:             name,
		Hosts:            r.ResourceConfig.InstanceCount,
		Layout:           optml.Layout{Hyperparameters: hp, ChannelConfig: in.config, Checkpoint: in.checkpoint},
		ChannelDirs:      in.dirs,
		Pipes:            in.pipes,
		CheckpointPath:   in.checkpointPath,
		Env:              r.Environment,
		NetworkIsolation: r.EnableNetworkIsolation,
		GPU:              m.gpu,
		StopGrace:        m.grace,
		MaxRuntime:       time.Duration(r.StoppingCondition.MaxRuntimeInSeconds) * time.Second,
		Stop:             rn.stop,
		Dir:              filepath.Join(work, "hosts"),
		Resource: func(rc *optml.ResourceConfig) {
			if r.ResourceConfig.InstanceType != "" {
				rc.CurrentInstanceType = r.ResourceConfig.InstanceType
			}
		},
		WhileRunning: func(ctx context.Context, hosts []*platform.Container) {
			m.update(name, func(j *Job) {
				j.TrainingStartTime = wire.Now()
				j.transition("Training", "Training image download completed. Training in progress.")
			})
			if in.mirror != nil {
				following.Go(func() { m.syncCheckpoints(ctx, name, in.mirror, done) })
			}
			epoch := strconv.FormatInt(time.Now().Unix(), 10)
			for _, c := range hosts {
				host := c.Label(platform.LabelHost)
				w := m.logs.Writer(logs.GroupTraining, name+"/"+host+"-"+epoch)
				var out, errw io.Writer = w, w
				if m.observer != nil {
					o, e := m.observer.HostOutput(name, host)
					if o != nil {
						out = io.MultiWriter(w, o)
					}
					if e != nil {
						errw = io.MultiWriter(w, e)
					}
				}
				following.Go(func() {
					c.FollowLogs(ctx, out, errw)
					w.Flush()
				})
			}
		},
	}
	start := time.Now()
	tr, err := m.engine.Train(ctx, job)
	close(done)
	following.Wait()
	if tr != nil && m.observer != nil {
		m.observer.Ended(name, tr)
	}
	if err != nil {
		if ctx.Err() != nil {
			fail(interrupted)
			return
		}
		fail(fmt.Sprintf("InternalServerError: running the job: %v", err))
		return
	}
	var hostLogs [][]byte
	for _, h := range tr.Hosts {
		hostLogs = append(hostLogs, h.Logs)
	}
	metrics, _ := platform.FinalMetrics(r.metricDefs(), hostLogs...)
	stopped := false
	select {
	case <-rn.stop:
		stopped = true
	default:
	}
	maxed := false
	for _, h := range tr.Hosts {
		if h.Stop != nil && !stopped {
			maxed = true
		}
	}
	reason := tr.FailureReason()
	m.update(name, func(j *Job) { j.transition("Uploading", "Uploading generated training model") })
	out, _ := data.Parse(r.OutputDataConfig.S3OutputPath)
	out = out.Join(name, "output")
	pack := filepath.Join(work, "pack")
	err = os.MkdirAll(pack, 0o755)
	if err == nil {
		err = tr.Pack(pack)
	}
	if err == nil {
		err = m.mover.Put(ctx, filepath.Join(pack, "model.tar.gz"), out.Join("model.tar.gz"))
	}
	if err == nil {
		err = m.mover.Put(ctx, filepath.Join(pack, "output.tar.gz"), out.Join("output.tar.gz"))
	}
	if err != nil && reason == "" {
		reason = "ClientError: uploading the artifacts: " + err.Error()
	}
	secs := int(time.Since(start).Seconds())
	m.update(name, func(j *Job) {
		now := wire.Now()
		j.TrainingEndTime = now
		j.TrainingTimeInSeconds, j.BillableTimeInSeconds = max(secs, 1), max(secs, 1)
		if err == nil {
			j.ModelArtifacts = &ModelArtifacts{S3ModelArtifacts: out.Join("model.tar.gz").String()}
		}
		for _, mt := range metrics {
			j.FinalMetricDataList = append(j.FinalMetricDataList, MetricData{MetricName: mt.Name, Value: mt.Value, Timestamp: now})
		}
		switch {
		case stopped && m.closing.Load():
			j.TrainingJobStatus, j.FailureReason = Failed, interrupted
			j.transition(Failed, "Training job failed")
		case stopped:
			j.TrainingJobStatus = Stopped
			j.transition(Stopped, "Training job stopped")
		case maxed:
			j.TrainingJobStatus = Stopped
			j.transition("MaxRuntimeExceeded", "Job stopped because it exceeded MaxRuntimeInSeconds")
		case reason != "":
			if len(reason) > optml.FailureReasonMax {
				reason = reason[:optml.FailureReasonMax]
			}
			j.TrainingJobStatus, j.FailureReason = Failed, "AlgorithmError: "+reason
			if len(j.FailureReason) > optml.FailureReasonMax {
				j.FailureReason = j.FailureReason[:optml.FailureReasonMax]
			}
			j.transition(Failed, "Training job failed")
		default:
			j.TrainingJobStatus = Completed
			j.transition(Completed, "Training job completed")
		}
	})
	m.log.Info("training job ended", "job", name, "took", time.Since(start).Round(time.Millisecond))
}
