package tree

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sagekit/sagekit/sdk/train"
)

// Channel is the input channel the tree trains on.
const Channel = "training"

// ModelFile is the model's file name in /opt/ml/model.
const ModelFile = "model.json"

// Train fits a tree on the channel "training" and writes it to the model
// directory, which SageMaker uploads as model.tar.gz. An error becomes
// /opt/ml/output/failure and a non-zero exit.
func Train(ctx context.Context, env *train.Env) error {
	var p Params
	if err := env.Decode(&p); err != nil {
		return err
	}
	dir, err := env.Channel(Channel)
	if err != nil {
		return err
	}
	x, y, err := ReadTrainingDir(dir)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m, err := Fit(x, y, p)
	if err != nil {
		return fmt.Errorf("fitting the tree: %w", err)
	}
	env.Metrics.Log("train:accuracy", m.Accuracy(x, y))
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the model: %w", err)
	}
	return train.WriteModel(env, ModelFile, b)
}
