package training

import (
	"github.com/sagekit/sagekit/local/wire"
)

// Job is a training job's record, shaped as DescribeTrainingJob's answer.
type Job struct {
	TrainingJobName            string                 `json:"TrainingJobName"`
	TrainingJobArn             string                 `json:"TrainingJobArn"`
	ModelArtifacts             *ModelArtifacts        `json:"ModelArtifacts,omitempty"`
	TrainingJobStatus          string                 `json:"TrainingJobStatus"`
	SecondaryStatus            string                 `json:"SecondaryStatus"`
	FailureReason              string                 `json:"FailureReason,omitempty"`
	HyperParameters            map[string]string      `json:"HyperParameters,omitempty"`
	AlgorithmSpecification     AlgorithmSpecification `json:"AlgorithmSpecification"`
	RoleArn                    string                 `json:"RoleArn"`
	InputDataConfig            []Channel              `json:"InputDataConfig,omitempty"`
	OutputDataConfig           OutputDataConfig       `json:"OutputDataConfig"`
	ResourceConfig             ResourceConfig         `json:"ResourceConfig"`
	StoppingCondition          StoppingCondition      `json:"StoppingCondition"`
	CreationTime               *wire.Time             `json:"CreationTime"`
	TrainingStartTime          *wire.Time             `json:"TrainingStartTime,omitempty"`
	TrainingEndTime            *wire.Time             `json:"TrainingEndTime,omitempty"`
	LastModifiedTime           *wire.Time             `json:"LastModifiedTime"`
	SecondaryStatusTransitions []Transition           `json:"SecondaryStatusTransitions,omitempty"`
	FinalMetricDataList        []MetricData           `json:"FinalMetricDataList,omitempty"`
	EnableNetworkIsolation     bool                   `json:"EnableNetworkIsolation"`
	Environment                map[string]string      `json:"Environment,omitempty"`
	CheckpointConfig           *CheckpointConfig      `json:"CheckpointConfig,omitempty"`
	TrainingTimeInSeconds      int                    `json:"TrainingTimeInSeconds,omitempty"`
	BillableTimeInSeconds      int                    `json:"BillableTimeInSeconds,omitempty"`
}

// ModelArtifacts says where model.tar.gz is.
type ModelArtifacts struct {
	S3ModelArtifacts string `json:"S3ModelArtifacts"`
}

// AlgorithmSpecification is the image and how it is fed.
type AlgorithmSpecification struct {
	TrainingImage                    string             `json:"TrainingImage"`
	TrainingInputMode                string             `json:"TrainingInputMode"`
	MetricDefinitions                []MetricDefinition `json:"MetricDefinitions,omitempty"`
	EnableSageMakerMetricsTimeSeries bool               `json:"EnableSageMakerMetricsTimeSeries,omitempty"`
}

// MetricDefinition reads a metric from the logs.
type MetricDefinition struct {
	Name  string `json:"Name"`
	Regex string `json:"Regex"`
}

// Channel is one input channel.
type Channel struct {
	ChannelName       string     `json:"ChannelName"`
	DataSource        DataSource `json:"DataSource"`
	ContentType       string     `json:"ContentType,omitempty"`
	CompressionType   string     `json:"CompressionType,omitempty"`
	RecordWrapperType string     `json:"RecordWrapperType,omitempty"`
	InputMode         string     `json:"InputMode,omitempty"`
}

// DataSource holds the channel's URI.
type DataSource struct {
	S3DataSource *S3DataSource `json:"S3DataSource,omitempty"`
}

// S3DataSource is a prefix (s3:// or, locally, file://).
type S3DataSource struct {
	S3DataType             string `json:"S3DataType"`
	S3Uri                  string `json:"S3Uri"`
	S3DataDistributionType string `json:"S3DataDistributionType,omitempty"`
}

// OutputDataConfig is where artifacts go.
type OutputDataConfig struct {
	S3OutputPath string `json:"S3OutputPath"`
}

// ResourceConfig is the fleet: each instance is a container.
type ResourceConfig struct {
	InstanceType   string `json:"InstanceType,omitempty"`
	InstanceCount  int    `json:"InstanceCount,omitempty"`
	VolumeSizeInGB int    `json:"VolumeSizeInGB"`
}

// CheckpointConfig is where checkpoints are kept: S3Uri, mirrored to and
// from LocalPath (default /opt/ml/checkpoints) in the container.
type CheckpointConfig struct {
	S3Uri     string `json:"S3Uri"`
	LocalPath string `json:"LocalPath,omitempty"`
}

// StoppingCondition limits the run time.
type StoppingCondition struct {
	MaxRuntimeInSeconds int `json:"MaxRuntimeInSeconds,omitempty"`
}

// Transition is one SecondaryStatusTransitions entry.
type Transition struct {
	Status        string     `json:"Status"`
	StartTime     *wire.Time `json:"StartTime"`
	EndTime       *wire.Time `json:"EndTime,omitempty"`
	StatusMessage string     `json:"StatusMessage,omitempty"`
}

// MetricData is one FinalMetricDataList entry.
type MetricData struct {
	MetricName string     `json:"MetricName"`
	Value      float64    `json:"Value"`
	Timestamp  *wire.Time `json:"Timestamp"`
}

// CreateRequest is CreateTrainingJob's input (the supported members).
type CreateRequest struct {
	TrainingJobName        string
	HyperParameters        map[string]string
	AlgorithmSpecification AlgorithmSpecification
	RoleArn                string
	InputDataConfig        []Channel
	OutputDataConfig       OutputDataConfig
	ResourceConfig         ResourceConfig
	StoppingCondition      StoppingCondition
	Environment            map[string]string
	EnableNetworkIsolation bool
	CheckpointConfig       *CheckpointConfig
}
