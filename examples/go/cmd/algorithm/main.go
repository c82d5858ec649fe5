// Command algorithm is a decision tree for Amazon SageMaker: `algorithm
// train` fits it on the channel "training" and writes the model, `algorithm
// serve` answers /ping and /invocations with it, in process.
package main

import (
	"github.com/sagekit/sagekit/sdk/app"

	"github.com/sagekit/sagekit/examples/go/tree"
)

func main() {
	app.Main(app.Options{
		Train:   tree.Train,
		Handler: &tree.Handler{},
	})
}
