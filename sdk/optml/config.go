package optml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
)

// ErrNotExist is matched (errors.Is) by a FileError for a missing file.
var ErrNotExist = fs.ErrNotExist

// FileError reports a config file that cannot be read or parsed.
// Its message names the file and the problem.
type FileError struct {
	File string // full path
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.File, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Channel is one entry of inputdataconfig.json.
type Channel struct {
	TrainingInputMode  string `json:"TrainingInputMode"`
	S3DistributionType string `json:"S3DistributionType,omitempty"`
	RecordWrapperType  string `json:"RecordWrapperType,omitempty"`
	ContentType        string `json:"ContentType,omitempty"`
}

// Input modes.
const (
	InputModeFile     = "File"
	InputModeFastFile = "FastFile"
	InputModePipe     = "Pipe"
)

// InputDataConfig maps channel names to their settings.
type InputDataConfig map[string]Channel

// Names returns the channel names sorted, as SM_CHANNELS lists them.
func (c InputDataConfig) Names() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// InstanceGroup is one entry of resourceconfig.json's instance_groups.
type InstanceGroup struct {
	InstanceGroupName string   `json:"instance_group_name"`
	InstanceType      string   `json:"instance_type"`
	Hosts             []string `json:"hosts"`
}

// ResourceConfig is resourceconfig.json: the cluster as this host sees it.
type ResourceConfig struct {
	CurrentHost          string          `json:"current_host"`
	CurrentInstanceType  string          `json:"current_instance_type,omitempty"`
	CurrentGroupName     string          `json:"current_group_name,omitempty"`
	Hosts                []string        `json:"hosts"`
	InstanceGroups       []InstanceGroup `json:"instance_groups,omitempty"`
	NetworkInterfaceName string          `json:"network_interface_name,omitempty"`
	Topology             json.RawMessage `json:"topology,omitempty"`
}

// Defaults used when resourceconfig.json leaves a key out (as the toolkit does).
const (
	DefaultNetworkInterface = "eth0"
	DefaultInstanceGroup    = "homogeneousCluster"
	DefaultInstanceType     = "local"
)

// CheckpointConfig is checkpointconfig.json, written only when the job sets
// CheckpointConfig.
type CheckpointConfig struct {
	LocalPath string `json:"LocalPath,omitempty"`
	S3URI     string `json:"S3Uri,omitempty"`
}

// Hyperparameters is hyperparameters.json as written. SageMaker writes
// every value as a string; a value that is not one (a number, a boolean,
// null, an array or an object, as hand-written files and some tools have
// it) is kept as its compact JSON text, which decodes (hyperparam.Value)
// to the value the training toolkit gives it. Decoding into typed values
// is package hyperparam's job.
type Hyperparameters map[string]string

// Config is everything SageMaker writes under input/config for training.
type Config struct {
	Hyperparameters Hyperparameters
	InputData       InputDataConfig
	Resource        ResourceConfig
	// Checkpoint is nil when checkpointconfig.json is absent.
	Checkpoint *CheckpointConfig
}

// LoadHyperparameters reads hyperparameters.json. A value that is not a
// JSON string is kept as its compact JSON text (see Hyperparameters), as
// the training toolkit keeps it as the value it is.
func (p Paths) LoadHyperparameters() (Hyperparameters, error) {
	return LoadHyperparametersFile(p.Hyperparameters())
}

// LoadHyperparametersFile reads a file in the form of hyperparameters.json
// (a JSON object) from anywhere, with the same rule for values that are
// not strings: what a user hands a training job, before SageMaker writes
// it as strings.
func LoadHyperparametersFile(path string) (Hyperparameters, error) {
	var raw map[string]json.RawMessage
	if err := readJSON(path, &raw); err != nil {
		return nil, err
	}
	hp := make(Hyperparameters, len(raw))
	for k, v := range raw {
		var s string
		if v[0] == '"' && json.Unmarshal(v, &s) == nil {
			hp[k] = s
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, &FileError{File: path, Err: fmt.Errorf("key %q: %w", k, err)}
		}
		hp[k] = b.String()
	}
	return hp, nil
}

// LoadInputDataConfig reads inputdataconfig.json. A missing file means no
// channels and is not an error (jobs without input data exist).
func (p Paths) LoadInputDataConfig() (InputDataConfig, error) {
	cfg := InputDataConfig{}
	err := readJSON(p.InputDataConfig(), &cfg)
	if errors.Is(err, fs.ErrNotExist) {
		return InputDataConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	var errs []error
	for name, ch := range cfg {
		if !validChannelName(name) {
			errs = append(errs, fmt.Errorf("channel %q: name must be 1-64 characters of [A-Za-z0-9.-_]", name))
		}
		switch ch.TrainingInputMode {
		case "", InputModeFile, InputModeFastFile, InputModePipe:
		default:
			errs = append(errs, fmt.Errorf("channel %q: TrainingInputMode %q is not File, FastFile or Pipe", name, ch.TrainingInputMode))
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, &FileError{File: p.InputDataConfig(), Err: errors.Join(errs...)}
	}
	return cfg, nil
}

// LoadResourceConfig reads resourceconfig.json and fills the keys the
// toolkit defaults (network interface, instance group, instance type).
func (p Paths) LoadResourceConfig() (ResourceConfig, error) {
	var rc ResourceConfig
	if err := readJSON(p.ResourceConfig(), &rc); err != nil {
		return ResourceConfig{}, err
	}
	if rc.CurrentHost == "" {
		return ResourceConfig{}, &FileError{File: p.ResourceConfig(), Err: errors.New(`"current_host" is missing or empty`)}
	}
	if len(rc.Hosts) == 0 {
		rc.Hosts = []string{rc.CurrentHost}
	}
	if rc.NetworkInterfaceName == "" {
		rc.NetworkInterfaceName = DefaultNetworkInterface
	}
	if rc.CurrentGroupName == "" {
		rc.CurrentGroupName = DefaultInstanceGroup
	}
	if rc.CurrentInstanceType == "" {
		rc.CurrentInstanceType = DefaultInstanceType
	}
	return rc, nil
}

// LoadCheckpointConfig reads checkpointconfig.json. It returns nil, nil when
// the file is absent (the job has no CheckpointConfig).
func (p Paths) LoadCheckpointConfig() (*CheckpointConfig, error) {
	var cc CheckpointConfig
	err := readJSON(p.CheckpointConfig(), &cc)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cc.LocalPath == "" {
		cc.LocalPath = p.Checkpoints()
	}
	return &cc, nil
}

// LoadTraining reads every training config file and reports every broken
// file at once. A missing hyperparameters.json is treated as {} and a
// missing resourceconfig.json as a single host "algo-1", as local tools do.
func (p Paths) LoadTraining() (*Config, error) {
	var errs []error
	cfg := &Config{}
	hp, err := p.LoadHyperparameters()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hp = Hyperparameters{}
	case err != nil:
		errs = append(errs, err)
	}
	cfg.Hyperparameters = hp
	if cfg.InputData, err = p.LoadInputDataConfig(); err != nil {
		errs = append(errs, err)
	}
	rc, err := p.LoadResourceConfig()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rc = ResourceConfig{CurrentHost: "algo-1", Hosts: []string{"algo-1"},
			NetworkInterfaceName: DefaultNetworkInterface, CurrentGroupName: DefaultInstanceGroup,
			CurrentInstanceType: DefaultInstanceType}
	case err != nil:
		errs = append(errs, err)
	}
	cfg.Resource = rc
	if cfg.Checkpoint, err = p.LoadCheckpointConfig(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &FileError{File: path, Err: fmt.Errorf("file does not exist: %w", fs.ErrNotExist)}
		}
		return &FileError{File: path, Err: err}
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return &FileError{File: path, Err: errors.New("file is empty; it must hold a JSON object")}
	}
	if trimmed[0] != '{' && json.Valid(trimmed) {
		return &FileError{File: path, Err: fmt.Errorf("file holds %s; it must hold a JSON object", jsonKind(trimmed[0]))}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return &FileError{File: path, Err: describeJSONError(b, err)}
	}
	if dec.More() {
		return &FileError{File: path, Err: errors.New("unexpected data after the JSON object")}
	}
	return nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 'n':
		return "JSON null"
	case 't', 'f':
		return "a JSON boolean"
	}
	return "a JSON number"
}

func describeJSONError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(b, se.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "top level"
		}
		return fmt.Errorf("%s: JSON %s where %s was expected", where, te.Value, te.Type)
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off-1 && i < int64(len(b)); i++ {
		if b[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func truncate(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

func sortErrors(errs []error) {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
}

func validChannelName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
