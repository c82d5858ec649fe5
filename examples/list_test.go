package examples

import "github.com/sagekit/sagekit/templates"

// example is one project directory under examples/ and the rendering it
// must match.
type example struct {
	Dir      string
	Template string
	Options  templates.Options
}

// version is the sagekit version written into the examples' image labels.
const version = "dev"

// all lists the examples.
func all() []example {
	return []example{
		{"generic", templates.Generic, templates.Options{Name: "iris-generic", Version: version}},
		{"go", templates.Go, templates.Options{Name: "iris-go", Module: "github.com/sagekit/sagekit/examples/go", NoGoMod: true, Version: version}},
		{"gpu", templates.Go, templates.Options{Name: "iris-gpu", Module: "github.com/sagekit/sagekit/examples/gpu", NoGoMod: true, GPU: true, Version: version}},
		{"python-sklearn", templates.Python, templates.Options{Name: "iris-sklearn", Version: version}},
	}
}
