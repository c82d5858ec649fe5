// Package hosting serves SageMaker models for sagekit local: the Model and
// EndpointConfig records, endpoints whose production variants run as
// containers (one per instance) through platform, and the runtime's
// InvokeEndpoint, which routes each request to a variant by weight (or
// TargetVariant) and to an instance in turn.
package hosting

import (
	"encoding/json"
	"fmt"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
)

// Model is a model's record, shaped as DescribeModel's answer.
type Model struct {
	ModelName                string                    `json:"ModelName"`
	ModelArn                 string                    `json:"ModelArn"`
	PrimaryContainer         *ContainerDef             `json:"PrimaryContainer,omitempty"`
	Containers               []ContainerDef            `json:"Containers,omitempty"`
	InferenceExecutionConfig *InferenceExecutionConfig `json:"InferenceExecutionConfig,omitempty"`
	ExecutionRoleArn         string                    `json:"ExecutionRoleArn,omitempty"`
	CreationTime             *wire.Time                `json:"CreationTime"`
	EnableNetworkIsolation   bool                      `json:"EnableNetworkIsolation"`
}

// InferenceExecutionConfig says how a model's containers are called:
// Serial (an inference pipeline, the default) or Direct (the request names
// one with TargetContainerHostname).
type InferenceExecutionConfig struct {
	Mode string `json:"Mode"`
}

// Execution modes of several containers.
const (
	ModeSerial = "Serial"
	ModeDirect = "Direct"
)

// ModeMultiModel is a container's Mode for a multi-model endpoint.
const ModeMultiModel = "MultiModel"

// containers returns the model's containers in order, and whether they
// are called directly.
func (m *Model) containers() ([]ContainerDef, bool) {
	if m.PrimaryContainer != nil {
		return []ContainerDef{*m.PrimaryContainer}, false
	}
	return m.Containers, m.InferenceExecutionConfig != nil && m.InferenceExecutionConfig.Mode == ModeDirect
}

// ContainerDef is one container of a model.
type ContainerDef struct {
	Image             string            `json:"Image"`
	ModelDataUrl      string            `json:"ModelDataUrl,omitempty"`
	Environment       map[string]string `json:"Environment,omitempty"`
	ContainerHostname string            `json:"ContainerHostname,omitempty"`
	Mode              string            `json:"Mode,omitempty"`
}

// EndpointConfig is an endpoint configuration's record.
type EndpointConfig struct {
	EndpointConfigName string              `json:"EndpointConfigName"`
	EndpointConfigArn  string              `json:"EndpointConfigArn"`
	ProductionVariants []ProductionVariant `json:"ProductionVariants"`
	// ShadowProductionVariants get a copy of the requests (see shadow.go).
	ShadowProductionVariants []ProductionVariant `json:"ShadowProductionVariants,omitempty"`
	CreationTime             *wire.Time          `json:"CreationTime"`
}

// ProductionVariant is one variant of a configuration.
type ProductionVariant struct {
	VariantName          string   `json:"VariantName"`
	ModelName            string   `json:"ModelName"`
	InitialInstanceCount int      `json:"InitialInstanceCount,omitempty"`
	InstanceType         string   `json:"InstanceType,omitempty"`
	InitialVariantWeight *float64 `json:"InitialVariantWeight,omitempty"`
}

func (v ProductionVariant) weight() float64 {
	if v.InitialVariantWeight == nil {
		return 1
	}
	return *v.InitialVariantWeight
}

// CreateModel records a model: one container (PrimaryContainer), or 2 to
// 15 (Containers) called as a serial inference pipeline or directly. Each
// image must be in the local engine.
func (m *Manager) CreateModel(r Model) (string, *wire.Error) {
	var defs []ContainerDef
	field := "PrimaryContainer"
	switch {
	case r.PrimaryContainer != nil && len(r.Containers) > 0:
		return "", wire.Validation("Set PrimaryContainer or Containers, not both.")
	case r.PrimaryContainer != nil:
		defs = []ContainerDef{*r.PrimaryContainer}
		if r.InferenceExecutionConfig != nil {
			return "", wire.Validation("InferenceExecutionConfig applies to Containers only.")
		}
	case len(r.Containers) > 0:
		defs, field = r.Containers, "Containers"
		if len(defs) > 15 {
			return "", wire.Validation("Containers holds %d containers; an inference pipeline has at most 15.", len(defs))
		}
	default:
		return "", wire.Validation("PrimaryContainer or Containers is required.")
	}
	direct := r.InferenceExecutionConfig != nil && r.InferenceExecutionConfig.Mode == ModeDirect
	hosts := map[string]bool{}
	for i, c := range defs {
		at := field
		if field == "Containers" {
			at = fmt.Sprintf("Containers.%d.member", i+1)
		}
		if c.Image == "" {
			return "", wire.Validation("%s.Image is required", at)
		}
		switch {
		case c.Mode == ModeMultiModel && field == "Containers":
			return "", wire.Validation("%s.Mode MultiModel is supported by sagekit local for PrimaryContainer only, not in a model of several Containers", at)
		case c.Mode == ModeMultiModel && c.ModelDataUrl == "":
			return "", wire.Validation("%s.ModelDataUrl is required with Mode MultiModel: the prefix holding the models TargetModel names", at)
		case c.Mode != "" && c.Mode != "SingleModel" && c.Mode != ModeMultiModel:
			return "", wire.Validation("%s.Mode %q is not SingleModel or MultiModel", at, c.Mode)
		}
		if direct && c.ContainerHostname == "" {
			return "", wire.Validation("%s.ContainerHostname is required with InferenceExecutionConfig.Mode Direct", at)
		}
		if c.ContainerHostname != "" {
			if hosts[c.ContainerHostname] {
				return "", wire.Validation("%s.ContainerHostname %q is used twice", at, c.ContainerHostname)
			}
			hosts[c.ContainerHostname] = true
		}
		if c.ModelDataUrl != "" {
			if _, err := data.Parse(c.ModelDataUrl); err != nil {
				return "", wire.Validation("%s.ModelDataUrl: %v", at, err)
			}
		}
		if _, err := m.engine.Client().ImageInspect(m.ctx, c.Image); err != nil {
			return "", wire.Validation("Could not access model data or image: %s.Image %q is not an image of the local container engine: build or load it first", at, c.Image)
		}
	}
	r.ModelArn = wire.ARN("model", r.ModelName)
	r.CreationTime = wire.Now()
	ok, err := m.st.Create(store.Models, r.ModelName, &r)
	if err != nil {
		return "", wire.Internal("recording the model: %v", err)
	}
	if !ok {
		return "", wire.Validation("Cannot create already existing model %q.", r.ModelArn)
	}
	return r.ModelArn, nil
}

// DescribeModel returns a model's record.
func (m *Manager) DescribeModel(name string) (*Model, *wire.Error) {
	var r Model
	if e := get(m.st, store.Models, name, "model", &r); e != nil {
		return nil, e
	}
	return &r, nil
}

// DeleteModel removes a model's record (endpoints already running keep
// their containers, as on SageMaker).
func (m *Manager) DeleteModel(name string) *wire.Error {
	if _, e := m.DescribeModel(name); e != nil {
		return e
	}
	if err := m.st.Delete(store.Models, name); err != nil {
		return wire.Internal("deleting model %s: %v", name, err)
	}
	return nil
}

// CreateEndpointConfig records a configuration; its models must exist.
func (m *Manager) CreateEndpointConfig(r EndpointConfig) (string, *wire.Error) {
	seen := map[string]bool{}
	for field, vs := range map[string][]ProductionVariant{"ProductionVariants": r.ProductionVariants, "ShadowProductionVariants": r.ShadowProductionVariants} {
		for i, v := range vs {
			if seen[v.VariantName] {
				return "", wire.Validation("%s: variant name %q is used twice", field, v.VariantName)
			}
			seen[v.VariantName] = true
			if v.ModelName == "" {
				return "", wire.Validation("%s.%d.member.ModelName is required", field, i+1)
			}
			if v.InitialInstanceCount < 1 {
				return "", wire.Validation("%s.%d.member.InitialInstanceCount is required (serverless variants are not supported by sagekit local)", field, i+1)
			}
			if _, e := m.DescribeModel(v.ModelName); e != nil {
				return "", wire.Validation("Could not find model %q.", wire.ARN("model", v.ModelName))
			}
		}
	}
	if len(r.ShadowProductionVariants) > 0 && len(r.ProductionVariants) != 1 {
		return "", wire.Validation("An endpoint configuration with ShadowProductionVariants must have exactly one production variant.")
	}
	r.EndpointConfigArn = wire.ARN("endpoint-config", r.EndpointConfigName)
	r.CreationTime = wire.Now()
	ok, err := m.st.Create(store.EndpointConfigs, r.EndpointConfigName, &r)
	if err != nil {
		return "", wire.Internal("recording the endpoint configuration: %v", err)
	}
	if !ok {
		return "", wire.Validation("Cannot create already existing endpoint configuration %q.", r.EndpointConfigArn)
	}
	return r.EndpointConfigArn, nil
}

// DescribeEndpointConfig returns a configuration's record.
func (m *Manager) DescribeEndpointConfig(name string) (*EndpointConfig, *wire.Error) {
	var r EndpointConfig
	if e := get(m.st, store.EndpointConfigs, name, "endpoint configuration", &r); e != nil {
		return nil, e
	}
	return &r, nil
}

// DeleteEndpointConfig removes a configuration's record.
func (m *Manager) DeleteEndpointConfig(name string) *wire.Error {
	if _, e := m.DescribeEndpointConfig(name); e != nil {
		return e
	}
	if err := m.st.Delete(store.EndpointConfigs, name); err != nil {
		return wire.Internal("deleting endpoint configuration %s: %v", name, err)
	}
	return nil
}

// get reads kind/name, answering SageMaker's "Could not find" for a
// missing record.
func get(st *store.Store, kind, name, what string, v any) *wire.Error {
	if err := st.Get(kind, name, v); err != nil {
		if err == store.ErrNotFound {
			return wire.Validation("Could not find %s %q.", what, arnOf(kind, name))
		}
		return wire.Internal("reading %s %s: %v", what, name, err)
	}
	return nil
}

func arnOf(kind, name string) string {
	switch kind {
	case store.Models:
		return wire.ARN("model", name)
	case store.EndpointConfigs:
		return wire.ARN("endpoint-config", name)
	}
	return wire.ARN("endpoint", name)
}

// Summary is an entry of ListModels, ListEndpointConfigs or ListEndpoints.
type Summary map[string]any

// List answers ListModels, ListEndpointConfigs and ListEndpoints.
func (m *Manager) List(kind string, in wire.ListInput) ([]Summary, string, *wire.Error) {
	var all []Summary
	err := m.st.Each(kind, func(_ string, raw []byte) bool {
		var full map[string]any
		if json.Unmarshal(raw, &full) != nil {
			return true
		}
		s := Summary{}
		for _, k := range summaryKeys[kind] {
			if v, ok := full[k]; ok {
				s[k] = v
			}
		}
		all = append(all, s)
		return true
	})
	if err != nil {
		return nil, "", wire.Internal("listing %s: %v", kind, err)
	}
	nameKey := map[string]string{store.Models: "ModelName", store.EndpointConfigs: "EndpointConfigName", store.Endpoints: "EndpointName"}[kind]
	return wire.List(all, in, func(s Summary) wire.Listed {
		l := wire.Listed{Name: fmt.Sprint(s[nameKey]), Created: timeOf(s["CreationTime"]), Modified: timeOf(s["LastModifiedTime"])}
		if st, ok := s["EndpointStatus"].(string); ok {
			l.Status = st
		}
		return l
	})
}

var summaryKeys = map[string][]string{
	store.Models:          {"ModelName", "ModelArn", "CreationTime"},
	store.EndpointConfigs: {"EndpointConfigName", "EndpointConfigArn", "CreationTime"},
	store.Endpoints:       {"EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus"},
}

func timeOf(v any) *wire.Time {
	f, ok := v.(float64)
	if !ok {
		return nil
	}
	var t wire.Time
	b, _ := json.Marshal(f)
	if t.UnmarshalJSON(b) != nil {
		return nil
	}
	return &t
}
