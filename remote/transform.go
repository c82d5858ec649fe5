package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// TransformJob is a batch transform job on SageMaker, with the model it
// creates for it (named as the job).
type TransformJob struct {
	Name, Image, Role string
	// Model is the model.tar.gz in S3.
	Model         string
	Input, Output string
	InstanceType  string
	InstanceCount int
	ContentType   string
	Accept        string
	// SplitType is None, Line, RecordIO or TFRecord; AssembleWith None
	// or Line; BatchStrategy SingleRecord or MultiRecord (empty: the
	// container's /execution-parameters decide).
	SplitType, AssembleWith, BatchStrategy string
	MaxPayloadMB                           int
	MaxConcurrent                          int
	InvocationTimeout                      time.Duration
	// MaxRetries is the retries of a failed request (0 to 3); nil leaves
	// SageMaker's default.
	MaxRetries *int
	Env        map[string]string
	Tags       map[string]string
	// LocalFiles accepts file:/// URIs, as TrainingJob.LocalFiles.
	LocalFiles bool
}

// Inputs checks j and returns its CreateModel and CreateTransformJob
// requests.
func (j TransformJob) Inputs() (*sagemaker.CreateModelInput, *sagemaker.CreateTransformJobInput, error) {
	var errs []error
	if err := checkName("transform job", j.Name); err != nil {
		errs = append(errs, err)
	}
	if j.Role == "" {
		errs = append(errs, errors.New("no execution role: "+RoleHint))
	}
	for flag, u := range map[string]string{"--model": j.Model, "--input": j.Input, "--output": j.Output} {
		if err := checkS3(flag, u, j.LocalFiles); err != nil {
			errs = append(errs, err)
		}
	}
	count := j.InstanceCount
	if count == 0 {
		count = 1
	}
	m := &sagemaker.CreateModelInput{
		ModelName:        aws.String(j.Name),
		ExecutionRoleArn: aws.String(j.Role),
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(j.Image), ModelDataUrl: aws.String(j.Model)},
		Tags:             tags(j.Tags),
	}
	t := &sagemaker.CreateTransformJobInput{
		TransformJobName: aws.String(j.Name),
		ModelName:        aws.String(j.Name),
		TransformInput: &types.TransformInput{
			DataSource: &types.TransformDataSource{S3DataSource: &types.TransformS3DataSource{
				S3DataType: types.S3DataTypeS3Prefix, S3Uri: aws.String(j.Input),
			}},
		},
		TransformOutput:    &types.TransformOutput{S3OutputPath: aws.String(j.Output)},
		TransformResources: &types.TransformResources{InstanceType: types.TransformInstanceType(j.InstanceType), InstanceCount: aws.Int32(int32(count))},
		Environment:        j.Env,
		Tags:               tags(j.Tags),
	}
	if j.ContentType != "" {
		t.TransformInput.ContentType = aws.String(j.ContentType)
	}
	if j.SplitType != "" {
		t.TransformInput.SplitType = types.SplitType(j.SplitType)
	}
	if j.Accept != "" {
		t.TransformOutput.Accept = aws.String(j.Accept)
	}
	if j.AssembleWith != "" {
		t.TransformOutput.AssembleWith = types.AssemblyType(j.AssembleWith)
	}
	if j.BatchStrategy != "" {
		t.BatchStrategy = types.BatchStrategy(j.BatchStrategy)
	}
	if j.MaxPayloadMB > 0 {
		t.MaxPayloadInMB = aws.Int32(int32(j.MaxPayloadMB))
	}
	if j.MaxConcurrent > 0 {
		t.MaxConcurrentTransforms = aws.Int32(int32(j.MaxConcurrent))
	}
	if j.InvocationTimeout > 0 || j.MaxRetries != nil {
		t.ModelClientConfig = &types.ModelClientConfig{}
		if j.InvocationTimeout > 0 {
			t.ModelClientConfig.InvocationsTimeoutInSeconds = seconds(j.InvocationTimeout)
		}
		if j.MaxRetries != nil {
			t.ModelClientConfig.InvocationsMaxRetries = aws.Int32(int32(*j.MaxRetries))
		}
	}
	return m, t, errors.Join(errs...)
}

// CreateTransformJob creates the job's model, then the job; the model is
// deleted again when the job cannot be created.
func (c *Client) CreateTransformJob(ctx context.Context, j TransformJob) error {
	m, t, err := j.Inputs()
	if err != nil {
		return err
	}
	if _, err := c.sm.CreateModel(ctx, m); err != nil {
		return ExplainFor("creating model "+j.Name, err, Context{Image: j.Image})
	}
	if _, err := c.sm.CreateTransformJob(ctx, t); err != nil {
		c.sm.DeleteModel(context.WithoutCancel(ctx), &sagemaker.DeleteModelInput{ModelName: m.ModelName})
		return ExplainFor("creating transform job "+j.Name, err, Context{InstanceType: j.InstanceType, Usage: "transform job"})
	}
	return nil
}

// DescribeTransformJob returns the job; a missing job is an error wrapping
// ErrNotFound.
func (c *Client) DescribeTransformJob(ctx context.Context, name string) (*sagemaker.DescribeTransformJobOutput, error) {
	out, err := c.sm.DescribeTransformJob(ctx, &sagemaker.DescribeTransformJobInput{TransformJobName: aws.String(name)})
	if notFound(err) {
		return nil, fmt.Errorf("transform job %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, Explain("describing transform job "+name, err)
	}
	return out, nil
}

// StopTransformJob asks SageMaker to stop the job.
func (c *Client) StopTransformJob(ctx context.Context, name string) error {
	_, err := c.sm.StopTransformJob(ctx, &sagemaker.StopTransformJobInput{TransformJobName: aws.String(name)})
	return Explain("stopping transform job "+name, err)
}

// DeleteModel deletes the model CreateTransformJob made for a job (named
// as the job), once the job is over.
func (c *Client) DeleteModel(ctx context.Context, name string) error {
	_, err := c.sm.DeleteModel(ctx, &sagemaker.DeleteModelInput{ModelName: aws.String(name)})
	return Explain("deleting model "+name, err)
}
