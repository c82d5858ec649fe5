package optml

// Environment variables of the contract: set by SageMaker, read by the
// toolkits, or (SAGEKIT_*) sagekit's own.
const (
	// EnvBaseDir moves the root away from /opt/ml (used by tests and local runs).
	EnvBaseDir = "SAGEMAKER_BASE_DIR"

	// Training.
	EnvProgram         = "SAGEMAKER_PROGRAM"
	EnvSubmitDirectory = "SAGEMAKER_SUBMIT_DIRECTORY"
	EnvTrainingModule  = "SAGEMAKER_TRAINING_MODULE"
	EnvTrainingJobName = "TRAINING_JOB_NAME"
	EnvTrainingJobARN  = "TRAINING_JOB_ARN"
	EnvJobName         = "SAGEMAKER_JOB_NAME"
	EnvRegion          = "SAGEMAKER_REGION"
	EnvCurrentHost     = "CURRENT_HOST"
	EnvLogLevel        = "SAGEMAKER_CONTAINER_LOG_LEVEL"

	// Hosting.
	EnvBindToPort              = "SAGEMAKER_BIND_TO_PORT"
	EnvSafePortRange           = "SAGEMAKER_SAFE_PORT_RANGE"
	EnvMultiModel              = "SAGEMAKER_MULTI_MODEL"
	EnvModelServerTimeout      = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
	EnvModelServerWorkers      = "SAGEMAKER_MODEL_SERVER_WORKERS"
	EnvStartupTimeout          = "SAGEMAKER_STARTUP_TIMEOUT"
	EnvDefaultInvocationAccept = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
	EnvMaxPayloadInMB          = "SAGEMAKER_MAX_PAYLOAD_IN_MB"

	// Batch transform.
	EnvBatch                   = "SAGEMAKER_BATCH"
	EnvBatchStrategy           = "SAGEMAKER_BATCH_STRATEGY"
	EnvMaxConcurrentTransforms = "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"

	// sagekit's own.
	EnvWorkerCommand = "SAGEKIT_WORKER_COMMAND"
	EnvWorkerSocket  = "SAGEKIT_WORKER_SOCKET"
	EnvWSGIApp       = "SAGEKIT_WSGI_APP"
	EnvHandler       = "SAGEKIT_HANDLER"
)

// Hosting constants.
const (
	// DefaultPort is the serving port when SAGEMAKER_BIND_TO_PORT is unset.
	DefaultPort = 8080
	// MaxPayloadBytes is InvokeEndpoint's request and response body limit (6 MiB).
	MaxPayloadBytes = 6 * 1024 * 1024
	// DefaultModelServerTimeoutSeconds is the inference toolkit's default.
	DefaultModelServerTimeoutSeconds = 60
	// DefaultStartupTimeoutSeconds is the inference toolkit's default.
	DefaultStartupTimeoutSeconds = 600
	// DefaultInvocationsAccept is used when Accept is missing or */*.
	DefaultInvocationsAccept = "application/json"
)

// Image labels SageMaker reads.
const (
	LabelAcceptBindToPort       = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
	LabelMultiModels            = "com.amazonaws.sagemaker.capabilities.multi-models"
	LabelBidirectionalStreaming = "com.amazonaws.sagemaker.capabilities.bidirectional-streaming"
)

// HTTP routes and headers of the hosting contract.
const (
	RoutePing                = "/ping"
	RouteInvocations         = "/invocations"
	RouteExecutionParameters = "/execution-parameters"
	RouteModels              = "/models"

	HeaderCustomAttributes = "X-Amzn-SageMaker-Custom-Attributes"
	HeaderTargetModel      = "X-Amzn-SageMaker-Target-Model"
	HeaderInferenceID      = "X-Amzn-SageMaker-Inference-Id"
	HeaderPrefix           = "X-Amzn-Sagemaker-" // canonical form, as net/http stores it
)

// Signal windows between SIGTERM and SIGKILL.
const (
	TrainingStopGraceSeconds = 120
	HostingStopGraceSeconds  = 30
	PingTimeoutSeconds       = 2
)

// Commands SageMaker passes as argv[1].
const (
	CommandTrain = "train"
	CommandServe = "serve"
)

// ContractVersion names the revision of the SageMaker container contract
// this package implements (docs/contract.md).
const ContractVersion = "2026.11"

// More hosting variables: the toolkit's seconds-only timeout, and sagekit's
// own for the serving stack and its workers.
const (
	// EnvModelServerTimeoutSeconds, when set, wins over EnvModelServerTimeout.
	EnvModelServerTimeoutSeconds = "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"
	// EnvWorkerID and EnvModelDir are set for each worker process: its
	// index (0, 1, ...) and the directory the model is loaded from.
	EnvWorkerID = "SAGEKIT_WORKER_ID"
	EnvModelDir = "SAGEKIT_MODEL_DIR"
	// EnvCodeDir tells the Python adapter, in handler mode, where the
	// handler module's code is: /opt/ml/model/code, or the directory
	// SAGEMAKER_SUBMIT_DIRECTORY names or was downloaded into.
	EnvCodeDir = "SAGEKIT_CODE_DIR"
	// EnvPreload chooses whether the Python adapters fork their workers
	// from one process that loaded the app once ("true"; the default for a
	// WSGI app without GPUs) or start each worker as an interpreter of its
	// own ("false"; the default for a handler module and on GPU hosts).
	EnvPreload = "SAGEKIT_PRELOAD"
	// EnvPython names the interpreter for Python programs and adapters
	// (default python3 on PATH).
	EnvPython = "SAGEKIT_PYTHON"
	// EnvPythonAdapter, a debugging override, names a file the runtime
	// runs as its Python worker adapter instead of the one it embeds: a
	// single script, or the sagekit_worker.py of a copy of the directory
	// the runtime writes the adapter to (the script and its package).
	EnvPythonAdapter = "SAGEKIT_PYTHON_ADAPTER"
	// EnvMetricsPort turns on Prometheus metrics on that port ("auto": the
	// first port of SAGEMAKER_SAFE_PORT_RANGE other than the serving port).
	EnvMetricsPort = "SAGEKIT_METRICS_PORT"
	// EnvShutdownGrace is how long serving drains in-flight requests after
	// SIGTERM, a Go duration (default 25s, inside SageMaker's 30 s before
	// SIGKILL).
	EnvShutdownGrace = "SAGEKIT_SHUTDOWN_GRACE"
	// EnvHTTPServer picks the front's HTTP/1.1 server: "sagekit" (default,
	// its own connection loop) or "net/http" (Go's standard server).
	EnvHTTPServer = "SAGEKIT_HTTP_SERVER"
)
