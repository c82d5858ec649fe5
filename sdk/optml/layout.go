package optml

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Layout describes an /opt/ml tree as SageMaker lays it out before a
// training container starts. Write turns it into files.
type Layout struct {
	// Hyperparameters are written as given: every value a string.
	Hyperparameters Hyperparameters
	// Channels maps a channel name to its files (relative path → content).
	Channels map[string]map[string][]byte
	// ChannelConfig overrides the inputdataconfig.json entry of a channel;
	// channels without one get File / FullyReplicated / None.
	ChannelConfig map[string]Channel
	// Resource defaults to a single host "algo-1".
	Resource *ResourceConfig
	// Checkpoint, when set, writes checkpointconfig.json.
	Checkpoint *CheckpointConfig
}

// SingleHost returns the resourceconfig.json SageMaker writes for host
// `host` of the cluster `hosts`.
func SingleHost(host string, hosts ...string) ResourceConfig {
	if len(hosts) == 0 {
		hosts = []string{host}
	}
	sorted := append([]string(nil), hosts...)
	sort.Strings(sorted)
	return ResourceConfig{
		CurrentHost:          host,
		CurrentInstanceType:  "ml.m5.large",
		CurrentGroupName:     DefaultInstanceGroup,
		Hosts:                sorted,
		InstanceGroups:       []InstanceGroup{{InstanceGroupName: DefaultInstanceGroup, InstanceType: "ml.m5.large", Hosts: append([]string(nil), hosts...)}},
		NetworkInterfaceName: DefaultNetworkInterface,
	}
}

// Write lays out l below p's root: the config files, the channel data and
// the empty model, output and checkpoint directories a container may write to.
func (p Paths) Write(l Layout) error {
	for _, d := range []string{p.InputConfig(), p.Data(), p.Model(), p.OutputData(), p.Checkpoints()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("laying out %s: %w", p.root, err)
		}
	}
	hp := l.Hyperparameters
	if hp == nil {
		hp = Hyperparameters{}
	}
	if err := writeJSON(p.Hyperparameters(), hp); err != nil {
		return err
	}
	idc := InputDataConfig{}
	for name := range l.Channels {
		idc[name] = Channel{TrainingInputMode: InputModeFile, S3DistributionType: "FullyReplicated", RecordWrapperType: "None"}
	}
	for name, ch := range l.ChannelConfig {
		idc[name] = ch
	}
	if err := writeJSON(p.InputDataConfig(), idc); err != nil {
		return err
	}
	rc := SingleHost("algo-1")
	if l.Resource != nil {
		rc = *l.Resource
	}
	if err := writeJSON(p.ResourceConfig(), rc); err != nil {
		return err
	}
	if l.Checkpoint != nil {
		if err := writeJSON(p.CheckpointConfig(), l.Checkpoint); err != nil {
			return err
		}
	}
	for name, files := range l.Channels {
		dir := p.Channel(name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating channel %q: %w", name, err)
		}
		for rel, content := range files {
			path := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("creating channel %q: %w", name, err)
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				return fmt.Errorf("writing channel %q file %s: %w", name, rel, err)
			}
		}
	}
	return nil
}

// writeJSON writes v to path atomically (temp file, then rename).
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return WriteFileAtomic(path, b, 0o644)
}

// WriteFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so readers never see a half-written file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
