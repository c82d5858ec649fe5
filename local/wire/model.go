package wire

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
)

//go:embed models/*.json
var modelFS embed.FS

// Model is the part of a botocore service definition that validation
// needs: each operation's input shape and the shapes it reaches.
type Model struct {
	// TargetPrefix is the X-Amz-Target prefix ("SageMaker").
	TargetPrefix string               `json:"targetPrefix"`
	Operations   map[string]Operation `json:"operations"`
	Shapes       map[string]*Shape    `json:"shapes"`

	reMu sync.Mutex
	re   map[string]*regexp.Regexp
}

// Operation names an operation's input shape.
type Operation struct {
	Input string `json:"input,omitempty"`
}

// Shape is one botocore shape, without documentation.
type Shape struct {
	Type     string         `json:"type"`
	Required []string       `json:"required,omitempty"`
	Members  map[string]Ref `json:"members,omitempty"`
	Member   *Ref           `json:"member,omitempty"`
	Key      *Ref           `json:"key,omitempty"`
	Value    *Ref           `json:"value,omitempty"`
	Enum     []string       `json:"enum,omitempty"`
	Min      *float64       `json:"min,omitempty"`
	Max      *float64       `json:"max,omitempty"`
	Pattern  string         `json:"pattern,omitempty"`
}

// Ref points at a shape by name.
type Ref struct {
	Shape string `json:"shape"`
}

// Service names, as in models/<name>.json.
const (
	SageMaker          = "sagemaker"
	SageMakerRuntime   = "sagemaker-runtime"
	Logs               = "logs"
	ApplicationScaling = "application-autoscaling"
)

var (
	modelsOnce sync.Once
	models     map[string]*Model
	modelsErr  error
)

// LoadModel returns the embedded model of service (one of the constants).
func LoadModel(service string) (*Model, error) {
	modelsOnce.Do(func() {
		models = map[string]*Model{}
		for _, s := range []string{SageMaker, Logs, ApplicationScaling} {
			b, err := modelFS.ReadFile("models/" + s + ".json")
			if err != nil {
				modelsErr = fmt.Errorf("reading the %s model: %w", s, err)
				return
			}
			m := &Model{re: map[string]*regexp.Regexp{}}
			if err := json.Unmarshal(b, m); err != nil {
				modelsErr = fmt.Errorf("decoding the %s model: %w", s, err)
				return
			}
			models[s] = m
		}
	})
	if modelsErr != nil {
		return nil, modelsErr
	}
	m, ok := models[service]
	if !ok {
		return nil, fmt.Errorf("no model for service %q", service)
	}
	return m, nil
}

// pattern compiles a shape's pattern, anchored as AWS applies it to the
// whole value. Patterns RE2 cannot compile (look-arounds) are not checked.
func (m *Model) pattern(p string) *regexp.Regexp {
	m.reMu.Lock()
	defer m.reMu.Unlock()
	if re, ok := m.re[p]; ok {
		return re
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		re = nil
	}
	m.re[p] = re
	return re
}
