package remote

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// DefaultPoll is how often waiters ask for a status, as the SageMaker
// Python SDK does.
const DefaultPoll = 5 * time.Second

// Progress is a status change a waiter saw.
type Progress struct {
	Time time.Time
	// Status is the status (InProgress, Creating...), Secondary the
	// training job's SecondaryStatus (Starting, Downloading, Training...).
	Status, Secondary string
	Message           string
}

// WaitOptions tune the waiters.
type WaitOptions struct {
	// Every is the poll interval (default DefaultPoll).
	Every time.Duration
	// Logs receives the job's CloudWatch logs, "host | line"; nil: none.
	Logs io.Writer
	// OnProgress is called for each status change.
	OnProgress func(Progress)
	// OnLogError is told, once, why the logs could not be read; the wait
	// goes on without them.
	OnLogError func(error)
}

func (o WaitOptions) every() time.Duration {
	if o.Every <= 0 {
		return DefaultPoll
	}
	return o.Every
}

func (o WaitOptions) emit(p Progress) {
	if o.OnProgress != nil {
		o.OnProgress(p)
	}
}

// WaitTrainingJob follows a training job until it is Completed, Failed or
// Stopped, reporting SecondaryStatus transitions and, with o.Logs, the
// logs of every host. It returns the final description; ctx ending
// returns ctx's error and leaves the job running.
func (c *Client) WaitTrainingJob(ctx context.Context, name string, o WaitOptions) (*sagemaker.DescribeTrainingJobOutput, error) {
	var tail *Tail
	if o.Logs != nil {
		tail = c.Tail(TrainingLogs(name), o.Logs)
	}
	// A transition's message changes while it lasts ("Downloading input
	// data", then the download's size): each new one is reported.
	shown := map[int]string{}
	lastStatus := ""
	var last *sagemaker.DescribeTrainingJobOutput
	err := follow(ctx, o, tail, func(ctx context.Context) (bool, error) {
		d, err := c.DescribeTrainingJob(ctx, name)
		if err != nil {
			return false, err
		}
		last = d
		for i, tr := range d.SecondaryStatusTransitions {
			msg := string(tr.Status) + "\x00" + aws.ToString(tr.StatusMessage)
			if shown[i] == msg {
				continue
			}
			shown[i] = msg
			o.emit(Progress{Time: aws.ToTime(tr.StartTime), Status: string(d.TrainingJobStatus), Secondary: string(tr.Status), Message: aws.ToString(tr.StatusMessage)})
		}
		if len(d.SecondaryStatusTransitions) == 0 && string(d.TrainingJobStatus) != lastStatus {
			o.emit(Progress{Time: time.Now(), Status: string(d.TrainingJobStatus), Secondary: string(d.SecondaryStatus)})
		}
		lastStatus = string(d.TrainingJobStatus)
		return TrainingDone(d.TrainingJobStatus), nil
	})
	return last, err
}

// follow calls done and polls tail (when not nil) until done reports
// true. Logs that cannot be read are reported once to o.OnLogError, and
// the wait goes on without them: the job matters more than its logs.
func follow(ctx context.Context, o WaitOptions, tail *Tail, done func(context.Context) (bool, error)) error {
	for first := true; ; first = false {
		finished, err := done(ctx)
		if err != nil {
			return err
		}
		if finished && !first && tail != nil {
			// The last lines reach CloudWatch Logs a little after the
			// job ends.
			if err := tail.Poll(ctx); err == nil {
				if err := sleep(ctx, o.every()); err != nil {
					return err
				}
			}
		}
		if tail != nil {
			if err := tail.Poll(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if o.OnLogError != nil {
					o.OnLogError(err)
				}
				tail = nil
			}
		}
		if finished {
			return nil
		}
		if err := sleep(ctx, o.every()); err != nil {
			return err
		}
	}
}

// WaitEndpoint waits until the endpoint is InService (nil) or Failed (an
// error with SageMaker's FailureReason), reporting status changes.
func (c *Client) WaitEndpoint(ctx context.Context, name string, o WaitOptions) (*sagemaker.DescribeEndpointOutput, error) {
	lastStatus := ""
	var last *sagemaker.DescribeEndpointOutput
	err := follow(ctx, o, nil, func(ctx context.Context) (bool, error) {
		d, err := c.DescribeEndpoint(ctx, name)
		if err != nil {
			return false, err
		}
		last = d
		if s := string(d.EndpointStatus); s != lastStatus {
			o.emit(Progress{Time: time.Now(), Status: s, Message: aws.ToString(d.FailureReason)})
			lastStatus = s
		}
		switch d.EndpointStatus {
		case types.EndpointStatusInService:
			return true, nil
		case types.EndpointStatusFailed, types.EndpointStatusOutOfService, types.EndpointStatusDeleting:
			return true, fmt.Errorf("endpoint %s is %s: %s; 'sagekit logs %s' shows the containers' logs", name, d.EndpointStatus, aws.ToString(d.FailureReason), name)
		}
		return false, nil
	})
	return last, err
}

// WaitTransformJob follows a transform job until it is Completed, Failed
// or Stopped, with its logs when o.Logs is set.
func (c *Client) WaitTransformJob(ctx context.Context, name string, o WaitOptions) (*sagemaker.DescribeTransformJobOutput, error) {
	var tail *Tail
	if o.Logs != nil {
		tail = c.Tail(TransformLogs(name), o.Logs)
	}
	lastStatus := ""
	var last *sagemaker.DescribeTransformJobOutput
	err := follow(ctx, o, tail, func(ctx context.Context) (bool, error) {
		d, err := c.DescribeTransformJob(ctx, name)
		if err != nil {
			return false, err
		}
		last = d
		if s := string(d.TransformJobStatus); s != lastStatus {
			o.emit(Progress{Time: time.Now(), Status: s, Message: aws.ToString(d.FailureReason)})
			lastStatus = s
		}
		switch d.TransformJobStatus {
		case types.TransformJobStatusCompleted, types.TransformJobStatusFailed, types.TransformJobStatusStopped:
			return true, nil
		}
		return false, nil
	})
	return last, err
}
