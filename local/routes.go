package local

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/sagekit/sagekit/local/batch"
	"github.com/sagekit/sagekit/local/hosting"
	"github.com/sagekit/sagekit/local/scaling"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
)

// maxRequest bounds a control-plane request body.
const maxRequest = 16 << 20

// Handler serves every route: the runtime by path, the control plane by
// X-Amz-Target.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /endpoints/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		if _, _, e := wire.ParseAuth(r); e != nil {
			wire.WriteError(w, e)
			return
		}
		s.hosting.Invoke(w, r, r.PathValue("name"))
	})
	mux.HandleFunc("POST /{$}", s.control)
	mux.Handle("GET /metrics", s.hosting.MetricsHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		wire.WriteError(w, &wire.Error{Code: wire.CodeUnknownOperation, Status: http.StatusNotFound,
			Message: r.Method + " " + r.URL.Path + " is not a route of sagekit local (POST / with X-Amz-Target, or POST /endpoints/NAME/invocations)"})
	})
	return mux
}

// handler answers one operation.
type handler func(ctx context.Context, body []byte) (any, *wire.Error)

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	if _, _, e := wire.ParseAuth(r); e != nil {
		wire.WriteError(w, e)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	prefix, op, ok := strings.Cut(target, ".")
	if !ok {
		wire.WriteError(w, &wire.Error{Code: wire.CodeUnknownOperation, Status: http.StatusBadRequest, Message: "X-Amz-Target is missing or has no operation: " + target})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		wire.WriteError(w, &wire.Error{Code: wire.CodeSerialization, Status: http.StatusBadRequest, Message: "the request body is unreadable or larger than 16 MiB"})
		return
	}
	var svc string
	switch prefix {
	case "SageMaker":
		svc = wire.SageMaker
	case "Logs_20140328":
		svc = wire.Logs
	case "AnyScaleFrontendService":
		svc = wire.ApplicationScaling
	default:
		wire.WriteError(w, &wire.Error{Code: wire.CodeUnknownOperation, Status: http.StatusBadRequest, Message: "sagekit local does not serve " + prefix})
		return
	}
	m, merr := wire.LoadModel(svc)
	if merr != nil {
		wire.WriteError(w, wire.Internal("%v", merr))
		return
	}
	if _, ok := m.Operations[op]; !ok {
		wire.WriteError(w, &wire.Error{Code: wire.CodeUnknownOperation, Status: http.StatusBadRequest, Message: "Unknown operation " + target})
		return
	}
	h := s.ops[target]
	if h == nil {
		wire.WriteError(w, wire.Validation("%s is not supported by sagekit local (docs/local.md lists what is)", target))
		return
	}
	out, e := h(r.Context(), body)
	if e != nil {
		wire.WriteError(w, e)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	wire.WriteJSON(w, out)
}

// decode validates body as op's input and decodes it into v.
func (s *Server) decode(op string, body []byte, v any) *wire.Error {
	return s.sm.Decode(op, body, wire.Supported[wire.SageMaker][op], v)
}

// scalingOp is an Application Auto Scaling operation: validated against
// its model, then answered by f.
func scalingOp[T any](op string, f func(T) (any, *wire.Error)) handler {
	return func(_ context.Context, b []byte) (any, *wire.Error) {
		m, err := wire.LoadModel(wire.ApplicationScaling)
		if err != nil {
			return nil, wire.Internal("%v", err)
		}
		var in T
		if e := m.Decode(op, b, wire.Supported[wire.ApplicationScaling][op], &in); e != nil {
			return nil, e
		}
		return f(in)
	}
}

type scalingKey struct {
	ServiceNamespace, ResourceId, ScalableDimension string
}

func (s *Server) scalingHandlers() map[string]handler {
	p := "AnyScaleFrontendService."
	return map[string]handler{
		p + "RegisterScalableTarget": scalingOp("RegisterScalableTarget", func(in scaling.Target) (any, *wire.Error) {
			arn, e := s.scaler.Register(in)
			if e != nil {
				return nil, e
			}
			return map[string]string{"ScalableTargetARN": arn}, nil
		}),
		p + "DeregisterScalableTarget": scalingOp("DeregisterScalableTarget", func(in scalingKey) (any, *wire.Error) {
			return nil, s.scaler.Deregister(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
		}),
		p + "DescribeScalableTargets": scalingOp("DescribeScalableTargets", func(in struct{ ResourceIds []string }) (any, *wire.Error) {
			return map[string]any{"ScalableTargets": s.scaler.Targets(in.ResourceIds)}, nil
		}),
		p + "PutScalingPolicy": scalingOp("PutScalingPolicy", func(in scaling.Policy) (any, *wire.Error) {
			arn, e := s.scaler.Put(in)
			if e != nil {
				return nil, e
			}
			return map[string]any{"PolicyARN": arn, "Alarms": []any{}}, nil
		}),
		p + "DeleteScalingPolicy": scalingOp("DeleteScalingPolicy", func(in struct {
			PolicyName string
			scalingKey
		}) (any, *wire.Error) {
			return nil, s.scaler.Delete(in.PolicyName, in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
		}),
		p + "DescribeScalingPolicies": scalingOp("DescribeScalingPolicies", func(in struct {
			PolicyNames []string
			ResourceId  string
		}) (any, *wire.Error) {
			return map[string]any{"ScalingPolicies": s.scaler.Policies(in.PolicyNames, in.ResourceId)}, nil
		}),
		p + "DescribeScalingActivities": scalingOp("DescribeScalingActivities", func(in struct{ ResourceId string }) (any, *wire.Error) {
			return map[string]any{"ScalingActivities": s.scaler.Activities(in.ResourceId)}, nil
		}),
	}
}

// logsOp is a CloudWatch Logs operation: validated against the Logs
// model, then answered by f.
func logsOp[T any](op string, f func(T) (any, *wire.Error)) handler {
	return func(_ context.Context, b []byte) (any, *wire.Error) {
		m, err := wire.LoadModel(wire.Logs)
		if err != nil {
			return nil, wire.Internal("%v", err)
		}
		var in T
		if e := m.Decode(op, b, wire.Supported[wire.Logs][op], &in); e != nil {
			if e.Code == wire.CodeValidation {
				e.Code = wire.CodeLogsInvalidParam
			}
			return nil, e
		}
		return f(in)
	}
}

func (s *Server) handlers() map[string]handler {
	return map[string]handler{
		"Logs_20140328.DescribeLogGroups":  logsOp("DescribeLogGroups", s.logs.DescribeLogGroups),
		"Logs_20140328.DescribeLogStreams": logsOp("DescribeLogStreams", s.logs.DescribeLogStreams),
		"Logs_20140328.GetLogEvents":       logsOp("GetLogEvents", s.logs.GetLogEvents),
		"Logs_20140328.FilterLogEvents":    logsOp("FilterLogEvents", s.logs.FilterLogEvents),
		"SageMaker.CreateTrainingJob":      s.createTrainingJob,
		"SageMaker.DescribeTrainingJob": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in struct{ TrainingJobName string }
			if e := s.decode("DescribeTrainingJob", b, &in); e != nil {
				return nil, e
			}
			return s.training.Describe(in.TrainingJobName)
		},
		"SageMaker.StopTrainingJob": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in struct{ TrainingJobName string }
			if e := s.decode("StopTrainingJob", b, &in); e != nil {
				return nil, e
			}
			return nil, s.training.Stop(in.TrainingJobName)
		},
		"SageMaker.ListTrainingJobs": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in wire.ListInput
			if e := s.decode("ListTrainingJobs", b, &in); e != nil {
				return nil, e
			}
			items, next, e := s.training.List(in)
			if e != nil {
				return nil, e
			}
			return map[string]any{"TrainingJobSummaries": nonNil(items), "NextToken": omitEmpty(next)}, nil
		},
		"SageMaker.CreateTransformJob": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in batch.Job
			if e := s.decode("CreateTransformJob", b, &in); e != nil {
				return nil, e
			}
			arn, e := s.batch.Create(in)
			if e != nil {
				return nil, e
			}
			return map[string]string{"TransformJobArn": arn}, nil
		},
		"SageMaker.DescribeTransformJob": s.describe("DescribeTransformJob", "TransformJobName", func(n string) (any, *wire.Error) { return s.batch.Describe(n) }),
		"SageMaker.StopTransformJob":     s.describe("StopTransformJob", "TransformJobName", func(n string) (any, *wire.Error) { return nil, s.batch.Stop(n) }),
		"SageMaker.ListTransformJobs": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in wire.ListInput
			if e := s.decode("ListTransformJobs", b, &in); e != nil {
				return nil, e
			}
			items, next, e := s.batch.List(in)
			if e != nil {
				return nil, e
			}
			return map[string]any{"TransformJobSummaries": items, "NextToken": omitEmpty(next)}, nil
		},
		"SageMaker.CreateModel":            s.createModel,
		"SageMaker.DescribeModel":          s.describe("DescribeModel", "ModelName", func(n string) (any, *wire.Error) { return s.hosting.DescribeModel(n) }),
		"SageMaker.DeleteModel":            s.describe("DeleteModel", "ModelName", func(n string) (any, *wire.Error) { return nil, s.hosting.DeleteModel(n) }),
		"SageMaker.ListModels":             s.list("ListModels", store.Models, "Models"),
		"SageMaker.CreateEndpointConfig":   s.createEndpointConfig,
		"SageMaker.DescribeEndpointConfig": s.describe("DescribeEndpointConfig", "EndpointConfigName", func(n string) (any, *wire.Error) { return s.hosting.DescribeEndpointConfig(n) }),
		"SageMaker.DeleteEndpointConfig":   s.describe("DeleteEndpointConfig", "EndpointConfigName", func(n string) (any, *wire.Error) { return nil, s.hosting.DeleteEndpointConfig(n) }),
		"SageMaker.ListEndpointConfigs":    s.list("ListEndpointConfigs", store.EndpointConfigs, "EndpointConfigs"),
		"SageMaker.CreateEndpoint": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in struct{ EndpointName, EndpointConfigName string }
			if e := s.decode("CreateEndpoint", b, &in); e != nil {
				return nil, e
			}
			arn, e := s.hosting.CreateEndpoint(in.EndpointName, in.EndpointConfigName)
			if e != nil {
				return nil, e
			}
			return map[string]string{"EndpointArn": arn}, nil
		},
		"SageMaker.DescribeEndpoint": s.describe("DescribeEndpoint", "EndpointName", func(n string) (any, *wire.Error) { return s.hosting.DescribeEndpoint(n) }),
		"SageMaker.DeleteEndpoint":   s.describe("DeleteEndpoint", "EndpointName", func(n string) (any, *wire.Error) { return nil, s.hosting.DeleteEndpoint(n) }),
		"SageMaker.ListEndpoints":    s.list("ListEndpoints", store.Endpoints, "Endpoints"),
		"SageMaker.UpdateEndpoint": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in struct {
				EndpointName, EndpointConfigName string
				DeploymentConfig                 *hosting.DeploymentConfig
			}
			if e := s.decode("UpdateEndpoint", b, &in); e != nil {
				return nil, e
			}
			arn, e := s.hosting.UpdateEndpoint(in.EndpointName, in.EndpointConfigName, in.DeploymentConfig)
			if e != nil {
				return nil, e
			}
			return map[string]string{"EndpointArn": arn}, nil
		},
		"SageMaker.UpdateEndpointWeightsAndCapacities": func(_ context.Context, b []byte) (any, *wire.Error) {
			var in struct {
				EndpointName                string
				DesiredWeightsAndCapacities []hostingDesired
			}
			if e := s.decode("UpdateEndpointWeightsAndCapacities", b, &in); e != nil {
				return nil, e
			}
			arn, e := s.hosting.UpdateWeightsAndCapacities(in.EndpointName, toDesired(in.DesiredWeightsAndCapacities))
			if e != nil {
				return nil, e
			}
			return map[string]string{"EndpointArn": arn}, nil
		},
	}
}

// describe is the shape of the operations that take one name.
func (s *Server) describe(op, field string, f func(string) (any, *wire.Error)) handler {
	return func(_ context.Context, b []byte) (any, *wire.Error) {
		var in map[string]any
		if e := s.decode(op, b, &in); e != nil {
			return nil, e
		}
		name, _ := in[field].(string)
		return f(name)
	}
}

func (s *Server) list(op, kind, key string) handler {
	return func(_ context.Context, b []byte) (any, *wire.Error) {
		var in wire.ListInput
		if e := s.decode(op, b, &in); e != nil {
			return nil, e
		}
		items, next, e := s.hosting.List(kind, in)
		if e != nil {
			return nil, e
		}
		return map[string]any{key: nonNil(items), "NextToken": omitEmpty(next)}, nil
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// omitEmpty leaves NextToken out of the answer when there is none.
func omitEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
