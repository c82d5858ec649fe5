// Package batch runs SageMaker batch transform jobs for sagekit local: the
// job's record (DescribeTransformJob's answer) in the store, the input
// fetched, the model's container run through platform.Engine.Transform,
// and the .out files stored under S3OutputPath.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/hosting"
	"github.com/sagekit/sagekit/local/logs"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Job is a transform job's record.
type Job struct {
	TransformJobName        string            `json:"TransformJobName"`
	TransformJobArn         string            `json:"TransformJobArn"`
	TransformJobStatus      string            `json:"TransformJobStatus"`
	FailureReason           string            `json:"FailureReason,omitempty"`
	ModelName               string            `json:"ModelName"`
	MaxConcurrentTransforms int               `json:"MaxConcurrentTransforms,omitempty"`
	ModelClientConfig       *ModelClient      `json:"ModelClientConfig,omitempty"`
	MaxPayloadInMB          int               `json:"MaxPayloadInMB,omitempty"`
	BatchStrategy           string            `json:"BatchStrategy,omitempty"`
	Environment             map[string]string `json:"Environment,omitempty"`
	TransformInput          Input             `json:"TransformInput"`
	TransformOutput         Output            `json:"TransformOutput"`
	TransformResources      Resources         `json:"TransformResources"`
	CreationTime            *wire.Time        `json:"CreationTime"`
	TransformStartTime      *wire.Time        `json:"TransformStartTime,omitempty"`
	TransformEndTime        *wire.Time        `json:"TransformEndTime,omitempty"`
}

// ModelClient is how requests to the container are made.
type ModelClient struct {
	InvocationsTimeoutInSeconds int  `json:"InvocationsTimeoutInSeconds,omitempty"`
	InvocationsMaxRetries       *int `json:"InvocationsMaxRetries,omitempty"`
}

// Input is the data to transform.
type Input struct {
	DataSource struct {
		S3DataSource struct {
			S3DataType string `json:"S3DataType"`
			S3Uri      string `json:"S3Uri"`
		} `json:"S3DataSource"`
	} `json:"DataSource"`
	ContentType     string `json:"ContentType,omitempty"`
	CompressionType string `json:"CompressionType,omitempty"`
	SplitType       string `json:"SplitType,omitempty"`
}

// Output is where results go.
type Output struct {
	S3OutputPath string `json:"S3OutputPath"`
	Accept       string `json:"Accept,omitempty"`
	AssembleWith string `json:"AssembleWith,omitempty"`
}

// Resources is the fleet: one instance, one container.
type Resources struct {
	InstanceType  string `json:"InstanceType"`
	InstanceCount int    `json:"InstanceCount"`
}

// Manager runs transform jobs.
type Manager struct {
	ctx     context.Context
	st      *store.Store
	engine  *platform.Engine
	mover   *data.Mover
	hosting *hosting.Manager
	logs    *logs.Store
	dir     string
	log     *slog.Logger
	// gpu, startup, limits and observer are Options' GPU,
	// StartupTimeout, ModelLimits and Observer.
	gpu      bool
	startup  time.Duration
	limits   platform.ExtractLimits
	observer Observer

	mu      sync.Mutex
	running map[string]context.CancelFunc
	closing bool
	wg      sync.WaitGroup
}

// Options configure a Manager.
type Options struct {
	Context context.Context
	Store   *store.Store
	Engine  *platform.Engine
	Mover   *data.Mover
	Hosting *hosting.Manager
	Logs    *logs.Store
	Dir     string
	Log     *slog.Logger
	// GPU attaches every GPU of the engine to each job's container
	// (default none).
	GPU bool
	// StartupTimeout is the deadline for the container's first 200 on
	// /ping (default platform.DefaultStartupTimeout).
	StartupTimeout time.Duration
	// ModelLimits bound what unpacking a model.tar.gz may write (default:
	// platform's).
	ModelLimits platform.ExtractLimits
	// Observer sees each job's files as they finish and its result
	// (default none).
	Observer Observer
}

// Observer follows transform jobs from inside the engine, for a client in
// the same process (sagekit run transform) that renders them as they
// happen.
type Observer interface {
	// File is called as each input file of job finishes.
	File(job string, f platform.FileResult)
	// Ended is given the container's result and error once it has
	// stopped, before the job's status becomes final.
	Ended(job string, res *platform.TransformResult, err error)
}

const interrupted = "sagekit local stopped while the job ran; its container was removed"

// New returns a Manager; jobs a previous process left running are marked
// Failed.
func New(o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{ctx: o.Context, st: o.Store, engine: o.Engine, mover: o.Mover, hosting: o.Hosting, logs: o.Logs, dir: o.Dir, log: o.Log, gpu: o.GPU, startup: o.StartupTimeout, limits: o.ModelLimits, observer: o.Observer, running: map[string]context.CancelFunc{}}
	var orphans []Job
	err := o.Store.Each(store.TransformJobs, func(_ string, raw []byte) bool {
		var j Job
		if json.Unmarshal(raw, &j) == nil && (j.TransformJobStatus == "InProgress" || j.TransformJobStatus == "Stopping") {
			orphans = append(orphans, j)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading transform jobs: %w", err)
	}
	for _, j := range orphans {
		j.TransformJobStatus, j.FailureReason, j.TransformEndTime = "Failed", interrupted, wire.Now()
		if err := o.Store.Put(store.TransformJobs, j.TransformJobName, &j); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Create records the job and runs it in the background.
func (m *Manager) Create(j Job) (string, *wire.Error) {
	mdl, e := m.hosting.DescribeModel(j.ModelName)
	if e != nil {
		return "", wire.Validation("Could not find model %q.", wire.ARN("model", j.ModelName))
	}
	if mdl.PrimaryContainer == nil {
		return "", wire.Validation("Model %s has several containers; sagekit local runs transform jobs of one-container models only", j.ModelName)
	}
	in := j.TransformInput
	if t := in.DataSource.S3DataSource.S3DataType; t != "S3Prefix" {
		return "", wire.Validation("TransformInput.DataSource.S3DataSource.S3DataType %q is not supported by sagekit local: use S3Prefix", t)
	}
	if _, err := data.Parse(in.DataSource.S3DataSource.S3Uri); err != nil {
		return "", wire.Validation("TransformInput.DataSource.S3DataSource.S3Uri: %v", err)
	}
	if c := in.CompressionType; c != "" && c != "None" {
		return "", wire.Validation("TransformInput.CompressionType %q is not supported by sagekit local", c)
	}
	if s := in.SplitType; s != "" && s != "None" && s != "Line" {
		return "", wire.Validation("TransformInput.SplitType %q is not supported by sagekit local: use None or Line", s)
	}
	if _, err := data.Parse(j.TransformOutput.S3OutputPath); err != nil {
		return "", wire.Validation("TransformOutput.S3OutputPath: %v", err)
	}
	if j.TransformResources.InstanceCount != 1 {
		return "", wire.Validation("TransformResources.InstanceCount %d: sagekit local runs transform jobs on one instance", j.TransformResources.InstanceCount)
	}
	j.TransformJobArn = wire.ARN("transform-job", j.TransformJobName)
	j.TransformJobStatus = "InProgress"
	j.CreationTime = wire.Now()
	ctx, cancel := context.WithCancel(m.ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	ok, err := m.st.Create(store.TransformJobs, j.TransformJobName, &j)
	if err != nil {
		cancel()
		return "", wire.Internal("recording the transform job: %v", err)
	}
	if !ok {
		cancel()
		return "", wire.InUse("Job name must be unique within an AWS account and region, and a job with this name already exists (%s)", j.TransformJobArn)
	}
	m.running[j.TransformJobName] = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run(ctx, j, mdl)
		m.mu.Lock()
		delete(m.running, j.TransformJobName)
		m.mu.Unlock()
		cancel()
	}()
	return j.TransformJobArn, nil
}

// Describe returns the job's record.
func (m *Manager) Describe(name string) (*Job, *wire.Error) {
	var j Job
	if err := m.st.Get(store.TransformJobs, name, &j); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, wire.Validation("Could not find requested job with name %s", name)
		}
		return nil, wire.Internal("reading transform job %s: %v", name, err)
	}
	return &j, nil
}

// Stop stops a running job: its container is removed and it ends Stopped.
func (m *Manager) Stop(name string) *wire.Error {
	j, e := m.Describe(name)
	if e != nil {
		return e
	}
	m.mu.Lock()
	cancel := m.running[name]
	m.mu.Unlock()
	if cancel == nil || j.TransformJobStatus != "InProgress" {
		return wire.Validation("The request was rejected because the transform job is in status %s.", j.TransformJobStatus)
	}
	m.update(name, func(j *Job) { j.TransformJobStatus = "Stopping" })
	cancel()
	return nil
}

// List answers ListTransformJobs.
func (m *Manager) List(in wire.ListInput) ([]map[string]any, string, *wire.Error) {
	var all []Job
	m.st.Each(store.TransformJobs, func(_ string, raw []byte) bool {
		var j Job
		if json.Unmarshal(raw, &j) == nil {
			all = append(all, j)
		}
		return true
	})
	page, next, e := wire.List(all, in, func(j Job) wire.Listed {
		return wire.Listed{Name: j.TransformJobName, Status: j.TransformJobStatus, Created: j.CreationTime, Modified: j.TransformEndTime}
	})
	if e != nil {
		return nil, "", e
	}
	out := []map[string]any{}
	for _, j := range page {
		s := map[string]any{"TransformJobName": j.TransformJobName, "TransformJobArn": j.TransformJobArn, "CreationTime": j.CreationTime, "TransformJobStatus": j.TransformJobStatus}
		if j.TransformEndTime != nil {
			s["TransformEndTime"] = j.TransformEndTime
		}
		if j.FailureReason != "" {
			s["FailureReason"] = j.FailureReason
		}
		out = append(out, s)
	}
	return out, next, nil
}

// Close stops every running job and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closing = true
	for _, c := range m.running {
		c()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

func (m *Manager) update(name string, f func(*Job)) {
	var j Job
	if m.st.Get(store.TransformJobs, name, &j) != nil {
		return
	}
	f(&j)
	if err := m.st.Put(store.TransformJobs, name, &j); err != nil {
		m.log.Error("recording transform job", "job", name, "err", err)
	}
}

func (m *Manager) run(ctx context.Context, j Job, mdl *hosting.Model) {
	name := j.TransformJobName
	work := filepath.Join(m.dir, name)
	defer os.RemoveAll(work)
	m.update(name, func(j *Job) { j.TransformStartTime = wire.Now() })
	err := m.transform(ctx, j, mdl, work)
	m.mu.Lock()
	closing := m.closing
	m.mu.Unlock()
	m.update(name, func(j *Job) {
		j.TransformEndTime = wire.Now()
		switch {
		case err == nil:
			j.TransformJobStatus = "Completed"
		case ctx.Err() != nil && closing:
			j.TransformJobStatus, j.FailureReason = "Failed", interrupted
		case ctx.Err() != nil:
			j.TransformJobStatus = "Stopped"
		default:
			reason := err.Error()
			if len(reason) > optml.FailureReasonMax {
				reason = reason[:optml.FailureReasonMax]
			}
			j.TransformJobStatus, j.FailureReason = "Failed", reason
		}
	})
}

func (m *Manager) transform(ctx context.Context, j Job, mdl *hosting.Model, work string) error {
	inLoc, _ := data.Parse(j.TransformInput.DataSource.S3DataSource.S3Uri)
	input, err := m.mover.Dir(ctx, inLoc, filepath.Join(work, "input"))
	if err != nil {
		return fmt.Errorf("ClientError: %w", err)
	}
	model := filepath.Join(work, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		return err
	}
	if u := mdl.PrimaryContainer.ModelDataUrl; u != "" {
		loc, err := data.Parse(u)
		if err != nil {
			return err
		}
		if model, err = m.mover.File(ctx, loc, filepath.Join(work, "model.tar.gz")); err != nil {
			return fmt.Errorf("ClientError: %w", err)
		}
	}
	outLoc, _ := data.Parse(j.TransformOutput.S3OutputPath)
	output := outLoc.Path
	if outLoc.Scheme == "s3" {
		output = filepath.Join(work, "output")
	}
	env := map[string]string{}
	for k, v := range mdl.PrimaryContainer.Environment {
		env[k] = v
	}
	for k, v := range j.Environment {
		env[k] = v
	}
	job := platform.TransformJob{
		Image: mdl.PrimaryContainer.Image, Model: model, Input: input, Output: output,
		ContentType: j.TransformInput.ContentType, Accept: j.TransformOutput.Accept,
		SplitType: platform.SplitType(orDefault(j.TransformInput.SplitType, "None")), BatchStrategy: optml.BatchStrategy(j.BatchStrategy),
		MaxPayloadInMB: j.MaxPayloadInMB, MaxConcurrentTransforms: j.MaxConcurrentTransforms,
		AssembleWith: platform.AssembleWith(orDefault(j.TransformOutput.AssembleWith, "None")), Env: env,
		GPU: m.gpu, StartupTimeout: m.startup, ModelLimits: m.limits,
	}
	if m.observer != nil {
		job.OnFile = func(f platform.FileResult) { m.observer.File(j.TransformJobName, f) }
	}
	if c := j.ModelClientConfig; c != nil {
		job.InvocationsTimeout = time.Duration(c.InvocationsTimeoutInSeconds) * time.Second
		if c.InvocationsMaxRetries != nil {
			job.InvocationsMaxRetries = *c.InvocationsMaxRetries
			if job.InvocationsMaxRetries == 0 {
				job.InvocationsMaxRetries = platform.NoRetries
			}
		}
	}
	res, err := m.engine.Transform(ctx, job)
	if m.observer != nil {
		m.observer.Ended(j.TransformJobName, res, err)
	}
	if res != nil && len(res.Logs) > 0 {
		m.logs.PutText(logs.GroupTransform, j.TransformJobName+"/i-local-"+strconv.FormatInt(time.Now().Unix(), 10), time.Now(), res.Logs)
	}
	if err != nil {
		return err
	}
	if outLoc.Scheme == "s3" {
		return filepath.WalkDir(output, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(output, p)
			return m.mover.Put(ctx, p, outLoc.Join(filepath.ToSlash(rel)))
		})
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
