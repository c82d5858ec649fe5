package optml

import (
	"os"
	"path/filepath"
)

// DefaultRoot is where SageMaker mounts the contract inside a container.
const DefaultRoot = "/opt/ml"

// File names under the input config directory.
const (
	HyperparametersFile  = "hyperparameters.json"
	InputDataConfigFile  = "inputdataconfig.json"
	ResourceConfigFile   = "resourceconfig.json"
	CheckpointConfigFile = "checkpointconfig.json"
)

// File names under the output directory.
const (
	FailureFile = "failure"
	SuccessFile = "success"
)

// FailureReasonMax is how many bytes of the failure file SageMaker keeps as
// the job's FailureReason.
const FailureReasonMax = 1024

// Paths resolves every location of the contract below one root.
// The zero value is not useful; use FromEnv or At.
type Paths struct {
	root string
}

// At returns the contract rooted at dir.
func At(dir string) Paths { return Paths{root: filepath.Clean(dir)} }

// FromEnv returns the contract rooted at $SAGEMAKER_BASE_DIR, or /opt/ml.
func FromEnv() Paths { return FromLookup(os.LookupEnv) }

// FromLookup is FromEnv with an explicit environment, for callers that read
// the environment at the edge and pass it inward.
func FromLookup(lookup func(string) (string, bool)) Paths {
	if v, ok := lookup(EnvBaseDir); ok && v != "" {
		return At(v)
	}
	return At(DefaultRoot)
}

// Root is the base directory (/opt/ml).
func (p Paths) Root() string { return p.root }

// Input is /opt/ml/input.
func (p Paths) Input() string { return filepath.Join(p.root, "input") }

// InputConfig is /opt/ml/input/config.
func (p Paths) InputConfig() string { return filepath.Join(p.root, "input", "config") }

// Hyperparameters is /opt/ml/input/config/hyperparameters.json.
func (p Paths) Hyperparameters() string { return filepath.Join(p.InputConfig(), HyperparametersFile) }

// InputDataConfig is /opt/ml/input/config/inputdataconfig.json.
func (p Paths) InputDataConfig() string { return filepath.Join(p.InputConfig(), InputDataConfigFile) }

// ResourceConfig is /opt/ml/input/config/resourceconfig.json.
func (p Paths) ResourceConfig() string { return filepath.Join(p.InputConfig(), ResourceConfigFile) }

// CheckpointConfig is /opt/ml/input/config/checkpointconfig.json.
func (p Paths) CheckpointConfig() string { return filepath.Join(p.InputConfig(), CheckpointConfigFile) }

// Data is /opt/ml/input/data, the parent of every channel.
func (p Paths) Data() string { return filepath.Join(p.root, "input", "data") }

// Channel is /opt/ml/input/data/<name> (File and FastFile modes).
func (p Paths) Channel(name string) string { return filepath.Join(p.Data(), name) }

// Model is /opt/ml/model: written by training, read (read-only) by hosting.
func (p Paths) Model() string { return filepath.Join(p.root, "model") }

// Models is /opt/ml/models, where multi-model endpoints place each model.
func (p Paths) Models() string { return filepath.Join(p.root, "models") }

// Output is /opt/ml/output.
func (p Paths) Output() string { return filepath.Join(p.root, "output") }

// OutputData is /opt/ml/output/data, uploaded as output.tar.gz.
func (p Paths) OutputData() string { return filepath.Join(p.root, "output", "data") }

// OutputIntermediate is /opt/ml/output/intermediate.
func (p Paths) OutputIntermediate() string { return filepath.Join(p.root, "output", "intermediate") }

// Failure is /opt/ml/output/failure; its first 1024 bytes become FailureReason.
func (p Paths) Failure() string { return filepath.Join(p.Output(), FailureFile) }

// Success is /opt/ml/output/success, the toolkit's empty success marker.
func (p Paths) Success() string { return filepath.Join(p.Output(), SuccessFile) }

// Checkpoints is /opt/ml/checkpoints, the default CheckpointConfig.LocalPath.
func (p Paths) Checkpoints() string { return filepath.Join(p.root, "checkpoints") }

// Code is /opt/ml/code, the toolkit's code directory.
func (p Paths) Code() string { return filepath.Join(p.root, "code") }

// ModelCode is /opt/ml/model/code, put on PYTHONPATH by the inference toolkit.
func (p Paths) ModelCode() string { return filepath.Join(p.Model(), "code") }
