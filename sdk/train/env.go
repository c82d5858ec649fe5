package train

import (
	"errors"
	"fmt"
	"os"

	"github.com/sagekit/sagekit/sdk/hyperparam"
	"github.com/sagekit/sagekit/sdk/optml"
)

// ErrNoChannel is returned by Env.Channel for a channel the job does not have.
var ErrNoChannel = errors.New("no such input channel")

// Env is what a training program knows about its job.
type Env struct {
	// Paths is the /opt/ml contract.
	Paths optml.Paths
	// Hyperparameters are the raw values; use Decode for typed ones.
	Hyperparameters optml.Hyperparameters
	// InputData is inputdataconfig.json: the job's channels.
	InputData optml.InputDataConfig
	// Resource is resourceconfig.json: this host and its cluster.
	Resource optml.ResourceConfig
	// Checkpoint is checkpointconfig.json; nil when the job has no
	// CheckpointConfig.
	Checkpoint *optml.CheckpointConfig
	// Metrics prints metric lines on stdout.
	Metrics *Metrics
}

// Load reads the job's configuration below p.
func Load(p optml.Paths) (*Env, error) {
	cfg, err := p.LoadTraining()
	if err != nil {
		return nil, err
	}
	return &Env{
		Paths:           p,
		Hyperparameters: cfg.Hyperparameters,
		InputData:       cfg.InputData,
		Resource:        cfg.Resource,
		Checkpoint:      cfg.Checkpoint,
		Metrics:         NewMetrics(os.Stdout),
	}, nil
}

// Decode fills the struct v points to from the hyperparameters; see
// hyperparam.Decode for the tags and types.
func (e *Env) Decode(v any) error { return hyperparam.Decode(e.Hyperparameters, v) }

// Value returns one hyperparameter decoded as the toolkit would
// (hyperparam.Value) and whether it is set.
func (e *Env) Value(key string) (any, bool) {
	raw, ok := e.Hyperparameters[key]
	if !ok {
		return nil, false
	}
	return hyperparam.Value(raw), true
}

// Channels returns the job's channel names, sorted.
func (e *Env) Channels() []string { return e.InputData.Names() }

// Channel returns the directory of channel name (File and FastFile modes),
// or an error wrapping ErrNoChannel that lists the channels there are.
func (e *Env) Channel(name string) (string, error) {
	if _, ok := e.InputData[name]; !ok {
		return "", fmt.Errorf("channel %q: %w (the job has %v): add it to the job's InputDataConfig", name, ErrNoChannel, e.Channels())
	}
	return e.Paths.Channel(name), nil
}

// CurrentHost is this container's host name in the cluster, e.g. "algo-1".
func (e *Env) CurrentHost() string { return e.Resource.CurrentHost }

// Hosts lists every host of the cluster, sorted as SageMaker sorts them.
func (e *Env) Hosts() []string { return e.Resource.Hosts }

// IsLeader reports whether this host is the first of Hosts, the one that
// usually writes the model.
func (e *Env) IsLeader() bool {
	return len(e.Resource.Hosts) == 0 || e.Resource.Hosts[0] == e.Resource.CurrentHost
}

// ModelDir is /opt/ml/model, uploaded as model.tar.gz.
func (e *Env) ModelDir() string { return e.Paths.Model() }

// OutputDataDir is /opt/ml/output/data, uploaded as output.tar.gz.
func (e *Env) OutputDataDir() string { return e.Paths.OutputData() }

// CheckpointDir is checkpointconfig.json's LocalPath, or /opt/ml/checkpoints.
func (e *Env) CheckpointDir() string {
	if e.Checkpoint != nil && e.Checkpoint.LocalPath != "" {
		return e.Checkpoint.LocalPath
	}
	return e.Paths.Checkpoints()
}

// Checkpoints returns the helper for CheckpointDir.
func (e *Env) Checkpoints() *Checkpoints { return NewCheckpoints(e.CheckpointDir()) }
