// Package spec reads endpoint.yaml, the description of an endpoint's
// production variants, shadow variants, inference pipelines and
// multi-model mode. It knows nothing of AWS, so the same file can describe
// an endpoint on SageMaker and one run locally.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// DefaultVariant is the variant name SageMaker's tools use for an endpoint
// of one variant.
const DefaultVariant = "AllTraffic"

// Endpoint is the content of endpoint.yaml.
type Endpoint struct {
	// Name is the endpoint's name; a --name flag wins over it.
	Name string `yaml:"name,omitempty"`
	// Variants share the traffic in proportion to their weights.
	Variants []Variant `yaml:"variants"`
	// Shadow variants get a copy of the traffic; their answers are logged,
	// not returned.
	Shadow []Variant `yaml:"shadow,omitempty"`
}

// Variant is one production or shadow variant.
type Variant struct {
	Name string `yaml:"name"`
	// Weight is the share of traffic relative to the other variants
	// (default 1).
	Weight *float64 `yaml:"weight,omitempty"`
	// InstanceType and InstanceCount default to the command's flags and 1.
	InstanceType  string `yaml:"instance-type,omitempty"`
	InstanceCount int    `yaml:"instance-count,omitempty"`
	// Image, Model and Env describe a single container; Image and Model
	// default to the command's IMAGE and --model.
	Image string            `yaml:"image,omitempty"`
	Model string            `yaml:"model,omitempty"`
	Env   map[string]string `yaml:"env,omitempty"`
	// MultiModel serves every model.tar.gz under Model (a prefix), loaded
	// on first use and chosen per request by the target model.
	MultiModel bool `yaml:"multi-model,omitempty"`
	// Containers, instead of Image and Model, make an inference pipeline:
	// each container's answer is the next one's request.
	Containers []Container `yaml:"containers,omitempty"`
}

// Container is one step of an inference pipeline.
type Container struct {
	Image string            `yaml:"image"`
	Model string            `yaml:"model,omitempty"`
	Env   map[string]string `yaml:"env,omitempty"`
}

// Defaults fill what a variant leaves out.
type Defaults struct {
	Image, Model, InstanceType string
	// Env is the environment of single-container variants that set none.
	Env map[string]string
}

var nameRe = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)

// Load reads and checks endpoint.yaml.
func Load(path string) (*Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading endpoint config: %w", err)
	}
	e, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("reading endpoint config %s: %w", path, err)
	}
	return e, nil
}

// Parse reads endpoint.yaml's content; unknown keys are errors.
func Parse(b []byte) (*Endpoint, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var e Endpoint
	if err := dec.Decode(&e); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &e, nil
}

// Single is the endpoint of one variant that flags alone describe.
func Single() *Endpoint {
	return &Endpoint{Variants: []Variant{{Name: DefaultVariant}}}
}

// Resolve fills the defaults in and checks the whole description,
// reporting every problem at once.
func (e Endpoint) Resolve(d Defaults) (*Endpoint, error) {
	var errs []error
	if len(e.Variants) == 0 {
		errs = append(errs, errors.New("no variants: list at least one under variants:"))
	}
	if e.Name != "" && !nameRe.MatchString(e.Name) {
		errs = append(errs, fmt.Errorf("name %q: use 1 to 63 letters, digits and hyphens", e.Name))
	}
	seen := map[string]bool{}
	out := Endpoint{Name: e.Name}
	fill := func(kind string, v Variant) Variant {
		what := fmt.Sprintf("%s %q", kind, v.Name)
		if !nameRe.MatchString(v.Name) {
			errs = append(errs, fmt.Errorf("%s: a name of 1 to 63 letters, digits and hyphens is required", what))
		}
		if seen[v.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", what))
		}
		seen[v.Name] = true
		if v.Weight == nil {
			w := 1.0
			v.Weight = &w
		} else if *v.Weight < 0 {
			errs = append(errs, fmt.Errorf("%s: weight %v: want 0 or more", what, *v.Weight))
		}
		if v.InstanceType == "" {
			v.InstanceType = d.InstanceType
		}
		if v.InstanceType == "" {
			errs = append(errs, fmt.Errorf("%s: no instance-type, and no --instance-type to default to", what))
		}
		if v.InstanceCount == 0 {
			v.InstanceCount = 1
		} else if v.InstanceCount < 0 {
			errs = append(errs, fmt.Errorf("%s: instance-count %d: want 1 or more", what, v.InstanceCount))
		}
		if len(v.Containers) > 0 {
			if v.Image != "" || v.Model != "" || v.Env != nil || v.MultiModel {
				errs = append(errs, fmt.Errorf("%s: give either containers (a pipeline) or image/model/env/multi-model, not both", what))
			}
			for i, c := range v.Containers {
				if c.Image == "" {
					errs = append(errs, fmt.Errorf("%s: container %d has no image", what, i+1))
				}
			}
			return v
		}
		if v.Image == "" {
			v.Image = d.Image
		}
		if v.Model == "" {
			v.Model = d.Model
		}
		if v.Env == nil {
			v.Env = d.Env
		}
		if v.Image == "" {
			errs = append(errs, fmt.Errorf("%s: no image, and no IMAGE to default to", what))
		}
		if v.MultiModel && v.Model == "" {
			errs = append(errs, fmt.Errorf("%s: multi-model needs model, the prefix holding the models", what))
		}
		return v
	}
	for _, v := range e.Variants {
		out.Variants = append(out.Variants, fill("variant", v))
	}
	for _, v := range e.Shadow {
		out.Shadow = append(out.Shadow, fill("shadow variant", v))
	}
	if len(out.Shadow) > 1 {
		errs = append(errs, errors.New("shadow: SageMaker allows one shadow variant"))
	}
	return &out, errors.Join(errs...)
}

// Steps returns a variant's containers: its pipeline, or its one
// container.
func (v Variant) Steps() []Container {
	if len(v.Containers) > 0 {
		return v.Containers
	}
	return []Container{{Image: v.Image, Model: v.Model, Env: v.Env}}
}
