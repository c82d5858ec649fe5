package training

import (
	"path"
	"strings"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// check refuses what sagekit local cannot run, naming the member.
func (r *CreateRequest) check() *wire.Error {
	if r.AlgorithmSpecification.TrainingImage == "" {
		return wire.Validation("AlgorithmSpecification.TrainingImage is required: sagekit local runs an image of the local container engine (algorithms by name are not available)")
	}
	if m := r.AlgorithmSpecification.TrainingInputMode; !validMode(m) {
		return wire.Validation("AlgorithmSpecification.TrainingInputMode %q is not File, Pipe or FastFile", m)
	}
	if c := r.CheckpointConfig; c != nil {
		if _, err := data.Parse(c.S3Uri); err != nil {
			return wire.Validation("CheckpointConfig.S3Uri: %v", err)
		}
		if c.LocalPath != "" && (!path.IsAbs(c.LocalPath) || path.Clean(c.LocalPath) == "/" || strings.HasPrefix(path.Clean(c.LocalPath)+"/", "/opt/ml/input/")) {
			return wire.Validation("CheckpointConfig.LocalPath %q must be an absolute path in the container outside /opt/ml/input", c.LocalPath)
		}
	}
	if _, err := platform.CompileMetrics(r.metricDefs()); err != nil {
		return wire.Validation("AlgorithmSpecification.MetricDefinitions: %v", err)
	}
	if _, err := data.Parse(r.OutputDataConfig.S3OutputPath); err != nil {
		return wire.Validation("OutputDataConfig.S3OutputPath: %v", err)
	}
	if r.ResourceConfig.InstanceCount < 1 {
		return wire.Validation("ResourceConfig.InstanceCount must be 1 or more")
	}
	seen := map[string]bool{}
	for i, ch := range r.InputDataConfig {
		if seen[ch.ChannelName] {
			return wire.Validation("InputDataConfig: channel %q is given twice", ch.ChannelName)
		}
		seen[ch.ChannelName] = true
		s := ch.DataSource.S3DataSource
		if s == nil {
			return wire.Validation("InputDataConfig.%d.member.DataSource.S3DataSource is required (sagekit local reads s3:// and file:// URIs)", i+1)
		}
		if s.S3DataType != "S3Prefix" {
			return wire.Validation("InputDataConfig.%d.member.DataSource.S3DataSource.S3DataType %q is not supported by sagekit local: use S3Prefix", i+1, s.S3DataType)
		}
		if d := s.S3DataDistributionType; d != "" && d != "FullyReplicated" {
			return wire.Validation("InputDataConfig.%d.member.DataSource.S3DataSource.S3DataDistributionType %q is not supported by sagekit local: use FullyReplicated", i+1, d)
		}
		if _, err := data.Parse(s.S3Uri); err != nil {
			return wire.Validation("InputDataConfig.%d.member.DataSource.S3DataSource.S3Uri: %v", i+1, err)
		}
		if m := ch.InputMode; m != "" && !validMode(m) {
			return wire.Validation("InputDataConfig.%d.member.InputMode %q is not File, Pipe or FastFile", i+1, m)
		}
		if c := ch.CompressionType; c != "" && c != "None" && (c != "Gzip" || r.mode(ch) != optml.InputModePipe) {
			return wire.Validation("InputDataConfig.%d.member.CompressionType %q is supported in Pipe mode only (Gzip); this channel is in %s mode", i+1, c, r.mode(ch))
		}
	}
	return nil
}

func (r *CreateRequest) metricDefs() []platform.MetricDefinition {
	var defs []platform.MetricDefinition
	for _, d := range r.AlgorithmSpecification.MetricDefinitions {
		defs = append(defs, platform.MetricDefinition{Name: d.Name, Regex: d.Regex})
	}
	return defs
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func validMode(m string) bool {
	return m == optml.InputModeFile || m == optml.InputModePipe || m == optml.InputModeFastFile
}

// mode is the channel's input mode: its own, else the job's.
func (r *CreateRequest) mode(ch Channel) string {
	if ch.InputMode != "" {
		return ch.InputMode
	}
	return r.AlgorithmSpecification.TrainingInputMode
}
