package local

import (
	"context"

	"github.com/sagekit/sagekit/local/hosting"
	"github.com/sagekit/sagekit/local/training"
	"github.com/sagekit/sagekit/local/wire"
)

func (s *Server) createTrainingJob(ctx context.Context, b []byte) (any, *wire.Error) {
	var in training.CreateRequest
	if e := s.decode("CreateTrainingJob", b, &in); e != nil {
		return nil, e
	}
	arn, e := s.training.Create(ctx, in)
	if e != nil {
		return nil, e
	}
	return map[string]string{"TrainingJobArn": arn}, nil
}

func (s *Server) createModel(_ context.Context, b []byte) (any, *wire.Error) {
	var in hosting.Model
	if e := s.decode("CreateModel", b, &in); e != nil {
		return nil, e
	}
	arn, e := s.hosting.CreateModel(in)
	if e != nil {
		return nil, e
	}
	return map[string]string{"ModelArn": arn}, nil
}

func (s *Server) createEndpointConfig(_ context.Context, b []byte) (any, *wire.Error) {
	var in hosting.EndpointConfig
	if e := s.decode("CreateEndpointConfig", b, &in); e != nil {
		return nil, e
	}
	arn, e := s.hosting.CreateEndpointConfig(in)
	if e != nil {
		return nil, e
	}
	return map[string]string{"EndpointConfigArn": arn}, nil
}

type hostingDesired struct {
	VariantName          string
	DesiredWeight        *float64
	DesiredInstanceCount *int
}

func toDesired(in []hostingDesired) []hosting.DesiredWeightAndCapacity {
	out := make([]hosting.DesiredWeightAndCapacity, len(in))
	for i, d := range in {
		out[i] = hosting.DesiredWeightAndCapacity(d)
	}
	return out
}
