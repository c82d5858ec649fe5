package wire

import "slices"

// Supported lists, per service and operation, the request members sagekit
// local implements; a member path covers its subtree. A request that sets
// any other member the model defines is refused with a ValidationException
// naming it, and an operation missing here is refused as a whole.
// docs/local.md renders the same table.
var Supported = map[string]map[string][]string{
	SageMaker: {
		"CreateTrainingJob": {
			"TrainingJobName", "HyperParameters", "RoleArn", "Environment", "Tags", "EnableNetworkIsolation",
			"AlgorithmSpecification.TrainingImage", "AlgorithmSpecification.TrainingInputMode",
			"AlgorithmSpecification.MetricDefinitions", "AlgorithmSpecification.EnableSageMakerMetricsTimeSeries",
			"InputDataConfig.ChannelName", "InputDataConfig.ContentType", "InputDataConfig.CompressionType",
			"InputDataConfig.InputMode", "InputDataConfig.RecordWrapperType",
			"InputDataConfig.DataSource.S3DataSource.S3DataType", "InputDataConfig.DataSource.S3DataSource.S3Uri",
			"InputDataConfig.DataSource.S3DataSource.S3DataDistributionType",
			"OutputDataConfig.S3OutputPath",
			"ResourceConfig.InstanceType", "ResourceConfig.InstanceCount", "ResourceConfig.VolumeSizeInGB",
			"StoppingCondition.MaxRuntimeInSeconds", "CheckpointConfig.S3Uri", "CheckpointConfig.LocalPath",
		},
		"DescribeTrainingJob": {"TrainingJobName"},
		"StopTrainingJob":     {"TrainingJobName"},
		"ListTrainingJobs": {"NextToken", "MaxResults", "SortBy", "SortOrder", "NameContains", "StatusEquals",
			"CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter", "LastModifiedTimeBefore"},

		"CreateTransformJob": {"TransformJobName", "ModelName", "MaxConcurrentTransforms", "MaxPayloadInMB", "BatchStrategy",
			"Environment", "Tags", "ModelClientConfig.InvocationsTimeoutInSeconds", "ModelClientConfig.InvocationsMaxRetries",
			"TransformInput.DataSource.S3DataSource.S3DataType", "TransformInput.DataSource.S3DataSource.S3Uri",
			"TransformInput.ContentType", "TransformInput.CompressionType", "TransformInput.SplitType",
			"TransformOutput.S3OutputPath", "TransformOutput.Accept", "TransformOutput.AssembleWith",
			"TransformResources.InstanceType", "TransformResources.InstanceCount"},
		"DescribeTransformJob": {"TransformJobName"},
		"StopTransformJob":     {"TransformJobName"},
		"ListTransformJobs": {"NextToken", "MaxResults", "SortBy", "SortOrder", "NameContains", "StatusEquals",
			"CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter", "LastModifiedTimeBefore"},

		"CreateModel": {"ModelName", "ExecutionRoleArn", "Tags",
			"PrimaryContainer.Image", "PrimaryContainer.ModelDataUrl", "PrimaryContainer.Environment",
			"PrimaryContainer.ContainerHostname", "PrimaryContainer.Mode",
			"Containers.Image", "Containers.ModelDataUrl", "Containers.Environment", "Containers.ContainerHostname",
			"Containers.Mode", "InferenceExecutionConfig.Mode"},
		"DescribeModel": {"ModelName"},
		"DeleteModel":   {"ModelName"},
		"ListModels":    {"NextToken", "MaxResults", "SortBy", "SortOrder", "NameContains", "CreationTimeAfter", "CreationTimeBefore"},

		"CreateEndpointConfig": {"EndpointConfigName", "Tags",
			"ProductionVariants.VariantName", "ProductionVariants.ModelName", "ProductionVariants.InitialInstanceCount",
			"ProductionVariants.InstanceType", "ProductionVariants.InitialVariantWeight",
			"ShadowProductionVariants.VariantName", "ShadowProductionVariants.ModelName", "ShadowProductionVariants.InitialInstanceCount",
			"ShadowProductionVariants.InstanceType", "ShadowProductionVariants.InitialVariantWeight"},
		"DescribeEndpointConfig": {"EndpointConfigName"},
		"DeleteEndpointConfig":   {"EndpointConfigName"},
		"ListEndpointConfigs":    {"NextToken", "MaxResults", "SortBy", "SortOrder", "NameContains", "CreationTimeAfter", "CreationTimeBefore"},

		"CreateEndpoint":   {"EndpointName", "EndpointConfigName", "Tags"},
		"DescribeEndpoint": {"EndpointName"},
		"DeleteEndpoint":   {"EndpointName"},
		"ListEndpoints": {"NextToken", "MaxResults", "SortBy", "SortOrder", "NameContains", "StatusEquals",
			"CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter", "LastModifiedTimeBefore"},
		"UpdateEndpoint": {"EndpointName", "EndpointConfigName",
			"DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type",
			"DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.WaitIntervalInSeconds",
			"DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize",
			"DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.LinearStepSize",
			"DeploymentConfig.BlueGreenUpdatePolicy.TerminationWaitInSeconds",
			"DeploymentConfig.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds",
			"DeploymentConfig.AutoRollbackConfiguration.Alarms"},
		"UpdateEndpointWeightsAndCapacities": {"EndpointName",
			"DesiredWeightsAndCapacities.VariantName", "DesiredWeightsAndCapacities.DesiredWeight",
			"DesiredWeightsAndCapacities.DesiredInstanceCount"},
	},
	ApplicationScaling: {
		"RegisterScalableTarget":   {"ServiceNamespace", "ResourceId", "ScalableDimension", "MinCapacity", "MaxCapacity", "RoleARN"},
		"DeregisterScalableTarget": {"ServiceNamespace", "ResourceId", "ScalableDimension"},
		"DescribeScalableTargets":  {"ServiceNamespace", "ResourceIds", "ScalableDimension", "MaxResults", "NextToken"},
		"PutScalingPolicy": {"PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyType",
			"TargetTrackingScalingPolicyConfiguration.TargetValue",
			"TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification",
			"TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown",
			"TargetTrackingScalingPolicyConfiguration.ScaleInCooldown",
			"TargetTrackingScalingPolicyConfiguration.DisableScaleIn"},
		"DeleteScalingPolicy":       {"PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension"},
		"DescribeScalingPolicies":   {"PolicyNames", "ServiceNamespace", "ResourceId", "ScalableDimension", "MaxResults", "NextToken"},
		"DescribeScalingActivities": {"ServiceNamespace", "ResourceId", "ScalableDimension", "MaxResults", "NextToken", "IncludeNotScaledActivities"},
	},
	Logs: {
		"DescribeLogGroups":  {"logGroupNamePrefix", "nextToken", "limit"},
		"DescribeLogStreams": {"logGroupName", "logGroupIdentifier", "logStreamNamePrefix", "orderBy", "descending", "nextToken", "limit"},
		"GetLogEvents":       {"logGroupName", "logGroupIdentifier", "logStreamName", "startTime", "endTime", "nextToken", "limit", "startFromHead"},
		"FilterLogEvents": {"logGroupName", "logGroupIdentifier", "logStreamNames", "logStreamNamePrefix", "startTime", "endTime",
			"filterPattern", "nextToken", "limit", "interleaved"},
	},
}

// SupportedOperations returns the sorted operation names of service that
// sagekit local implements.
func SupportedOperations(service string) []string {
	var ops []string
	for op := range Supported[service] {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}
