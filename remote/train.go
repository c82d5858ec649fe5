package remote

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// DefaultMaxRun is SageMaker's default limit on a training job's run time,
// used when a spec gives none (the API requires one).
const DefaultMaxRun = 24 * time.Hour

// DefaultVolumeSizeGB is the ML storage volume of each instance when a spec
// gives none.
const DefaultVolumeSizeGB = 30

// TrainingJob is what CreateTrainingJob needs, in the words of the CLI.
type TrainingJob struct {
	Name          string
	Image         string
	Role          string
	InstanceType  string
	InstanceCount int
	// VolumeSizeGB is each instance's storage volume (default 30).
	VolumeSizeGB int
	Channels     []Channel
	// Output is the S3 prefix receiving JOB/output/model.tar.gz.
	Output          string
	Hyperparameters map[string]string
	Env             map[string]string
	// Spot runs on managed spot capacity; MaxWait bounds the time spent
	// waiting for it plus running (default: twice MaxRun).
	Spot    bool
	MaxWait time.Duration
	// MaxRun bounds the run time (default DefaultMaxRun).
	MaxRun time.Duration
	// Checkpoints is the S3 prefix /opt/ml/checkpoints is synced with.
	Checkpoints      string
	Metrics          []Metric
	VPC              *VPC
	NetworkIsolation bool
	Tags             map[string]string
	// LocalFiles accepts file:/// URIs besides s3:// ones, for a server
	// that reads this machine's files ('sagekit local').
	LocalFiles bool
}

// Channel is one input channel read from S3.
type Channel struct {
	Name  string
	S3URI string
}

// Metric is a metric SageMaker scrapes from the job's logs.
type Metric struct {
	Name, Regex string
}

// VPC places the job's instances in subnets with security groups.
type VPC struct {
	Subnets        []string
	SecurityGroups []string
}

var (
	jobNameRe = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)
	channelRe = regexp.MustCompile(`^[A-Za-z0-9\.\-_]+$`)
)

// ParseVPC reads a comma-separated list of subnet (subnet-…) and security
// group (sg-…) IDs.
func ParseVPC(s string) (*VPC, error) {
	v := &VPC{}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		switch {
		case strings.HasPrefix(id, "subnet-"):
			v.Subnets = append(v.Subnets, id)
		case strings.HasPrefix(id, "sg-"):
			v.SecurityGroups = append(v.SecurityGroups, id)
		default:
			return nil, fmt.Errorf("--vpc %q: %q is neither a subnet (subnet-…) nor a security group (sg-…)", s, id)
		}
	}
	if len(v.Subnets) == 0 || len(v.SecurityGroups) == 0 {
		return nil, fmt.Errorf("--vpc %q: give at least one subnet-… and one sg-…, for example --vpc subnet-0abc,sg-0def", s)
	}
	return v, nil
}

// JobName makes a job name from an image reference and the time, as the
// SageMaker Python SDK does: the repository's last path element, then the
// time to the millisecond.
func JobName(image string, now time.Time) string { return JobNameSuffix(image, "", now) }

// JobNameSuffix is JobName with suffix (letters, digits and hyphens) after
// the image's name, kept whole when the name is shortened to fit: for
// several jobs started together.
func JobNameSuffix(image, suffix string, now time.Time) string {
	base := image
	if i := strings.LastIndexAny(base, "@"); i >= 0 {
		base = base[:i]
	}
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.Index(base, ":"); i >= 0 {
		base = base[:i]
	}
	var b strings.Builder
	for _, r := range base {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	now = now.UTC()
	stamp := now.Format("2006-01-02-15-04-05") + fmt.Sprintf("-%03d", now.Nanosecond()/int(time.Millisecond))
	name := strings.Trim(b.String(), "-")
	if suffix != "" {
		suffix = "-" + suffix
	}
	if max := 63 - len(stamp) - 1 - len(suffix); len(name) > max {
		name = strings.TrimRight(name[:max], "-")
	}
	if name == "" {
		name = "sagekit"
	}
	return name + suffix + "-" + stamp
}

func checkName(what, name string) error {
	if !jobNameRe.MatchString(name) {
		return fmt.Errorf("%s name %q: use 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit", what, name)
	}
	return nil
}

// checkS3 checks that uri is an S3 URI, or with localFiles a file:///
// URI too.
func checkS3(flag, uri string, localFiles bool) error {
	if localFiles && strings.HasPrefix(uri, "file:///") {
		return nil
	}
	if !strings.HasPrefix(uri, "s3://") || len(uri) <= len("s3://") {
		return fmt.Errorf("%s %q: want an S3 URI, s3://BUCKET/PREFIX", flag, uri)
	}
	return nil
}

func seconds(d time.Duration) *int32 { return aws.Int32(int32((d + time.Second - 1) / time.Second)) }

// Input validates j and returns the CreateTrainingJob request; every
// problem is reported at once.
func (j TrainingJob) Input() (*sagemaker.CreateTrainingJobInput, error) {
	var errs []error
	if err := checkName("training job", j.Name); err != nil {
		errs = append(errs, err)
	}
	if j.Role == "" {
		errs = append(errs, errors.New("no execution role: "+RoleHint))
	}
	if j.InstanceCount < 1 {
		errs = append(errs, fmt.Errorf("instance count %d: want 1 or more", j.InstanceCount))
	}
	if err := checkS3("--output", j.Output, j.LocalFiles); err != nil {
		errs = append(errs, err)
	}
	if j.Checkpoints != "" {
		if err := checkS3("--checkpoints", j.Checkpoints, j.LocalFiles); err != nil {
			errs = append(errs, err)
		}
	}
	maxRun := j.MaxRun
	if maxRun == 0 {
		maxRun = DefaultMaxRun
	}
	maxWait := j.MaxWait
	switch {
	case maxWait != 0 && !j.Spot:
		errs = append(errs, errors.New("--max-wait applies to spot training only: add --spot"))
	case j.Spot && maxWait == 0:
		maxWait = 2 * maxRun
	case j.Spot && maxWait < maxRun:
		errs = append(errs, fmt.Errorf("--max-wait %s is shorter than --max-run %s: SageMaker wants max-wait ≥ max-run", maxWait, maxRun))
	}
	vol := j.VolumeSizeGB
	if vol == 0 {
		vol = DefaultVolumeSizeGB
	}
	in := &sagemaker.CreateTrainingJobInput{
		TrainingJobName: aws.String(j.Name),
		RoleArn:         aws.String(j.Role),
		AlgorithmSpecification: &types.AlgorithmSpecification{
			TrainingImage:     aws.String(j.Image),
			TrainingInputMode: types.TrainingInputModeFile,
		},
		OutputDataConfig: &types.OutputDataConfig{S3OutputPath: aws.String(j.Output)},
		ResourceConfig: &types.ResourceConfig{
			InstanceType:   types.TrainingInstanceType(j.InstanceType),
			InstanceCount:  aws.Int32(int32(j.InstanceCount)),
			VolumeSizeInGB: aws.Int32(int32(vol)),
		},
		StoppingCondition: &types.StoppingCondition{MaxRuntimeInSeconds: seconds(maxRun)},
		HyperParameters:   j.Hyperparameters,
		Environment:       j.Env,
		Tags:              tags(j.Tags),
	}
	if j.Spot {
		in.EnableManagedSpotTraining = aws.Bool(true)
		in.StoppingCondition.MaxWaitTimeInSeconds = seconds(maxWait)
	}
	if j.NetworkIsolation {
		in.EnableNetworkIsolation = aws.Bool(true)
	}
	if j.Checkpoints != "" {
		in.CheckpointConfig = &types.CheckpointConfig{S3Uri: aws.String(j.Checkpoints)}
	}
	if j.VPC != nil {
		in.VpcConfig = &types.VpcConfig{Subnets: j.VPC.Subnets, SecurityGroupIds: j.VPC.SecurityGroups}
	}
	seen := map[string]bool{}
	for _, ch := range j.Channels {
		if !channelRe.MatchString(ch.Name) || seen[ch.Name] {
			errs = append(errs, fmt.Errorf("channel %q: use letters, digits, '.', '-' and '_', each name once", ch.Name))
		}
		seen[ch.Name] = true
		if err := checkS3("--data "+ch.Name, ch.S3URI, j.LocalFiles); err != nil {
			errs = append(errs, err)
		}
		in.InputDataConfig = append(in.InputDataConfig, types.Channel{
			ChannelName: aws.String(ch.Name),
			DataSource: &types.DataSource{S3DataSource: &types.S3DataSource{
				S3DataType:             types.S3DataTypeS3Prefix,
				S3Uri:                  aws.String(ch.S3URI),
				S3DataDistributionType: types.S3DataDistributionFullyReplicated,
			}},
		})
	}
	for _, m := range j.Metrics {
		if _, err := regexp.Compile(m.Regex); err != nil || m.Name == "" {
			errs = append(errs, fmt.Errorf("--metric %s=%s: want NAME=REGEX with one capturing group, for example loss=loss: ([0-9.]+)", m.Name, m.Regex))
			continue
		}
		in.AlgorithmSpecification.MetricDefinitions = append(in.AlgorithmSpecification.MetricDefinitions,
			types.MetricDefinition{Name: aws.String(m.Name), Regex: aws.String(m.Regex)})
	}
	return in, errors.Join(errs...)
}

func tags(m map[string]string) []types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []types.Tag
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// CreateTrainingJob starts j and returns its ARN.
func (c *Client) CreateTrainingJob(ctx context.Context, j TrainingJob) (string, error) {
	in, err := j.Input()
	if err != nil {
		return "", err
	}
	usage := "training job"
	if j.Spot {
		usage = "spot training job"
	}
	out, err := c.sm.CreateTrainingJob(ctx, in)
	if err != nil {
		return "", ExplainFor("creating training job "+j.Name, err, Context{Image: j.Image, InstanceType: j.InstanceType, Usage: usage})
	}
	return aws.ToString(out.TrainingJobArn), nil
}

// DescribeTrainingJob returns the job; a missing job is an error wrapping
// ErrNotFound.
func (c *Client) DescribeTrainingJob(ctx context.Context, name string) (*sagemaker.DescribeTrainingJobOutput, error) {
	out, err := c.sm.DescribeTrainingJob(ctx, &sagemaker.DescribeTrainingJobInput{TrainingJobName: aws.String(name)})
	if notFound(err) {
		return nil, fmt.Errorf("training job %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, Explain("describing training job "+name, err)
	}
	return out, nil
}

// StopTrainingJob asks SageMaker to stop the job (SIGTERM, then SIGKILL
// 120 s later; the model is still uploaded).
func (c *Client) StopTrainingJob(ctx context.Context, name string) error {
	_, err := c.sm.StopTrainingJob(ctx, &sagemaker.StopTrainingJobInput{TrainingJobName: aws.String(name)})
	return Explain("stopping training job "+name, err)
}

// TrainingDone reports whether a training job status is final.
func TrainingDone(s types.TrainingJobStatus) bool {
	switch s {
	case types.TrainingJobStatusCompleted, types.TrainingJobStatusFailed, types.TrainingJobStatusStopped:
		return true
	}
	return false
}
