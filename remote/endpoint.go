package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"

	"github.com/sagekit/sagekit/remote/spec"
)

// Endpoint is what it takes to create an endpoint: its name, the role its
// models run with, and its variants (spec.Endpoint, resolved).
type Endpoint struct {
	Name string
	Role string
	Spec *spec.Endpoint
	Tags map[string]string
	// LocalFiles accepts file:/// model URIs, as TrainingJob.LocalFiles.
	LocalFiles bool
}

// EndpointPlan is the calls that create an endpoint, in order: a model for
// each variant, the endpoint config, the endpoint.
type EndpointPlan struct {
	Models   []*sagemaker.CreateModelInput
	Config   *sagemaker.CreateEndpointConfigInput
	Endpoint *sagemaker.CreateEndpointInput
}

// ModelName is the name of the model of an endpoint's variant.
func ModelName(endpoint, variant string) string {
	n := endpoint + "-" + variant
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// Plan checks e and returns the requests that create it.
func (e Endpoint) Plan() (*EndpointPlan, error) {
	var errs []error
	if err := checkName("endpoint", e.Name); err != nil {
		errs = append(errs, err)
	}
	if e.Role == "" {
		errs = append(errs, errors.New("no execution role: "+RoleHint))
	}
	if e.Spec == nil {
		return nil, errors.Join(append(errs, errors.New("no variants"))...)
	}
	p := &EndpointPlan{
		Config:   &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(e.Name), Tags: tags(e.Tags)},
		Endpoint: &sagemaker.CreateEndpointInput{EndpointName: aws.String(e.Name), EndpointConfigName: aws.String(e.Name), Tags: tags(e.Tags)},
	}
	variant := func(v spec.Variant) types.ProductionVariant {
		m := &sagemaker.CreateModelInput{ModelName: aws.String(ModelName(e.Name, v.Name)), ExecutionRoleArn: aws.String(e.Role), Tags: tags(e.Tags)}
		steps := v.Steps()
		for i, s := range steps {
			cd := types.ContainerDefinition{Image: aws.String(s.Image), Environment: s.Env}
			if s.Model != "" {
				if err := checkS3(fmt.Sprintf("variant %s: model", v.Name), s.Model, e.LocalFiles); err != nil {
					errs = append(errs, err)
				}
				cd.ModelDataUrl = aws.String(s.Model)
			}
			if v.MultiModel {
				cd.Mode = types.ContainerModeMultiModel
			}
			if len(steps) == 1 {
				m.PrimaryContainer = &cd
			} else {
				cd.ContainerHostname = aws.String(fmt.Sprintf("step-%d", i+1))
				m.Containers = append(m.Containers, cd)
			}
		}
		if len(steps) > 1 {
			m.InferenceExecutionConfig = &types.InferenceExecutionConfig{Mode: types.InferenceExecutionModeSerial}
		}
		p.Models = append(p.Models, m)
		return types.ProductionVariant{
			VariantName:          aws.String(v.Name),
			ModelName:            m.ModelName,
			InstanceType:         types.ProductionVariantInstanceType(v.InstanceType),
			InitialInstanceCount: aws.Int32(int32(v.InstanceCount)),
			InitialVariantWeight: aws.Float32(float32(*v.Weight)),
		}
	}
	for _, v := range e.Spec.Variants {
		p.Config.ProductionVariants = append(p.Config.ProductionVariants, variant(v))
	}
	for _, v := range e.Spec.Shadow {
		p.Config.ShadowProductionVariants = append(p.Config.ShadowProductionVariants, variant(v))
	}
	return p, errors.Join(errs...)
}

// CreateEndpoint makes the plan's models, endpoint config and endpoint. When
// a step fails, what it made before is deleted again.
func (c *Client) CreateEndpoint(ctx context.Context, p *EndpointPlan) error {
	name := aws.ToString(p.Endpoint.EndpointName)
	var made []func(context.Context)
	undo := func() {
		ctx := context.WithoutCancel(ctx)
		for i := len(made) - 1; i >= 0; i-- {
			made[i](ctx)
		}
	}
	for _, m := range p.Models {
		if _, err := c.sm.CreateModel(ctx, m); err != nil {
			undo()
			img := ""
			if m.PrimaryContainer != nil {
				img = aws.ToString(m.PrimaryContainer.Image)
			}
			return ExplainFor("creating model "+aws.ToString(m.ModelName), err, Context{Image: img})
		}
		made = append(made, func(ctx context.Context) { c.sm.DeleteModel(ctx, &sagemaker.DeleteModelInput{ModelName: m.ModelName}) })
	}
	if _, err := c.sm.CreateEndpointConfig(ctx, p.Config); err != nil {
		undo()
		return Explain("creating endpoint config "+aws.ToString(p.Config.EndpointConfigName), err)
	}
	made = append(made, func(ctx context.Context) {
		c.sm.DeleteEndpointConfig(ctx, &sagemaker.DeleteEndpointConfigInput{EndpointConfigName: p.Config.EndpointConfigName})
	})
	if _, err := c.sm.CreateEndpoint(ctx, p.Endpoint); err != nil {
		undo()
		it := ""
		if len(p.Config.ProductionVariants) > 0 {
			it = string(p.Config.ProductionVariants[0].InstanceType)
		}
		return ExplainFor("creating endpoint "+name, err, Context{InstanceType: it, Usage: "endpoint"})
	}
	return nil
}

// DescribeEndpoint returns the endpoint; a missing one is an error
// wrapping ErrNotFound.
func (c *Client) DescribeEndpoint(ctx context.Context, name string) (*sagemaker.DescribeEndpointOutput, error) {
	out, err := c.sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)})
	if notFound(err) {
		return nil, fmt.Errorf("endpoint %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, Explain("describing endpoint "+name, err)
	}
	return out, nil
}

// EndpointParts are what an endpoint is made of.
type EndpointParts struct {
	Endpoint string
	Config   string
	Models   []string
}

// Parts finds an endpoint's config and the models of its variants.
func (c *Client) Parts(ctx context.Context, endpoint string) (*EndpointParts, error) {
	d, err := c.DescribeEndpoint(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	p := &EndpointParts{Endpoint: endpoint, Config: aws.ToString(d.EndpointConfigName)}
	cfg, err := c.sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: d.EndpointConfigName})
	if notFound(err) {
		return p, nil
	}
	if err != nil {
		return nil, Explain("describing endpoint config "+p.Config, err)
	}
	seen := map[string]bool{}
	for _, v := range append(cfg.ProductionVariants, cfg.ShadowProductionVariants...) {
		if m := aws.ToString(v.ModelName); m != "" && !seen[m] {
			seen[m] = true
			p.Models = append(p.Models, m)
		}
	}
	return p, nil
}

// Delete deletes the endpoint, then its config and models; a config or
// model already gone is not an error.
func (c *Client) Delete(ctx context.Context, p *EndpointParts) error {
	if _, err := c.sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String(p.Endpoint)}); err != nil && !notFound(err) {
		return Explain("deleting endpoint "+p.Endpoint, err)
	}
	var errs []error
	if p.Config != "" {
		if _, err := c.sm.DeleteEndpointConfig(ctx, &sagemaker.DeleteEndpointConfigInput{EndpointConfigName: aws.String(p.Config)}); err != nil && !notFound(err) {
			errs = append(errs, Explain("deleting endpoint config "+p.Config, err))
		}
	}
	for _, m := range p.Models {
		if _, err := c.sm.DeleteModel(ctx, &sagemaker.DeleteModelInput{ModelName: aws.String(m)}); err != nil && !notFound(err) {
			errs = append(errs, Explain("deleting model "+m, err))
		}
	}
	return errors.Join(errs...)
}

// Invocation is one request to an endpoint.
type Invocation struct {
	Endpoint         string
	Body             []byte
	ContentType      string
	Accept           string
	Variant          string
	TargetModel      string
	CustomAttributes string
}

// Answer is an endpoint's answer.
type Answer struct {
	Body             []byte
	ContentType      string
	Variant          string
	CustomAttributes string
}

// Invoke sends one request through the SageMaker runtime. A container's
// error answer (ModelError) keeps its original status and message in the
// error.
func (c *Client) Invoke(ctx context.Context, in Invocation) (*Answer, error) {
	req := &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(in.Endpoint), Body: in.Body}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return aws.String(s)
	}
	req.ContentType, req.Accept = opt(in.ContentType), opt(in.Accept)
	req.TargetVariant, req.TargetModel, req.CustomAttributes = opt(in.Variant), opt(in.TargetModel), opt(in.CustomAttributes)
	out, err := c.runtime.InvokeEndpoint(ctx, req)
	if err != nil {
		return nil, Explain("invoking endpoint "+in.Endpoint, err)
	}
	return &Answer{Body: out.Body, ContentType: aws.ToString(out.ContentType), Variant: aws.ToString(out.InvokedProductionVariant), CustomAttributes: aws.ToString(out.CustomAttributes)}, nil
}

// ReadBody reads a request body of at most SageMaker's 6 MiB (and one
// byte more, to tell a body that is too big).
func ReadBody(r io.Reader) ([]byte, error) {
	const max = 6 << 20
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("the request body is over 6 MiB, the most InvokeEndpoint takes: use a batch transform (sagekit run transform) for big inputs")
	}
	return b, nil
}
