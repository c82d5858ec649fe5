package hosting

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/logs"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/platform"
)

// Endpoint is an endpoint's record, shaped as DescribeEndpoint's answer.
type Endpoint struct {
	EndpointName       string           `json:"EndpointName"`
	EndpointArn        string           `json:"EndpointArn"`
	EndpointConfigName string           `json:"EndpointConfigName"`
	ProductionVariants []VariantSummary `json:"ProductionVariants,omitempty"`
	// ShadowProductionVariants are the variants that get a copy of the
	// requests.
	ShadowProductionVariants []VariantSummary `json:"ShadowProductionVariants,omitempty"`
	EndpointStatus           string           `json:"EndpointStatus"`
	FailureReason            string           `json:"FailureReason,omitempty"`
	CreationTime             *wire.Time       `json:"CreationTime"`
	LastModifiedTime         *wire.Time       `json:"LastModifiedTime"`
}

// VariantSummary is a variant of a running endpoint.
type VariantSummary struct {
	VariantName          string          `json:"VariantName"`
	DeployedImages       []DeployedImage `json:"DeployedImages,omitempty"`
	CurrentWeight        float64         `json:"CurrentWeight"`
	DesiredWeight        float64         `json:"DesiredWeight"`
	CurrentInstanceCount int             `json:"CurrentInstanceCount"`
	DesiredInstanceCount int             `json:"DesiredInstanceCount"`
}

// DeployedImage is the image a variant runs.
type DeployedImage struct {
	SpecifiedImage string     `json:"SpecifiedImage"`
	ResolvedImage  string     `json:"ResolvedImage,omitempty"`
	ResolutionTime *wire.Time `json:"ResolutionTime,omitempty"`
}

// Manager runs endpoints. Its methods are safe for concurrent use.
type Manager struct {
	// ctx is the server's life: containers and creations end with it.
	ctx      context.Context
	st       *store.Store
	engine   *platform.Engine
	mover    *data.Mover
	dir      string
	log      *slog.Logger
	health   time.Duration
	gpu      bool
	limits   platform.ExtractLimits
	observer Observer
	client   *http.Client
	logs     *logs.Store
	metrics  *metrics

	// counts are each variant's invocations, by "endpoint/variant".
	counts sync.Map
	// shadowSlots bounds the shadow copies under way.
	shadowSlots chan struct{}

	mu   sync.RWMutex
	live map[string]*live
	wg   sync.WaitGroup
}

// Options configure a Manager.
type Options struct {
	Store  *store.Store
	Engine *platform.Engine
	Mover  *data.Mover
	// Dir holds unpacked models.
	Dir string
	Log *slog.Logger
	// HealthTimeout is how long a new instance has to answer /ping
	// (default 4 minutes, SageMaker's).
	HealthTimeout time.Duration
	// Logs receives each instance's output, in
	// /aws/sagemaker/Endpoints/NAME, stream VARIANT/i-<container id>
	// (default: a store of its own).
	Logs *logs.Store
	// GPU attaches every GPU of the engine to each instance's containers
	// (default none).
	GPU bool
	// ModelLimits bound what unpacking a model.tar.gz may write (default:
	// platform's).
	ModelLimits platform.ExtractLimits
	// Observer sees each instance's containers as they start, answer
	// /ping and stop (default none).
	Observer Observer
}

// live is a running endpoint.
type live struct {
	name    string
	cancel  context.CancelFunc
	ctx     context.Context
	routing atomic.Pointer[routing]
	// mu serialises changes of the fleet (create, update, delete).
	mu sync.Mutex
}

// routing is an immutable snapshot of an endpoint's variants and weights;
// a weight change swaps in a new one, so requests never see half an
// update.
type routing struct {
	variants []*variant
	total    float64
	// shadows get a copy of requests (see shadow.go); shadowSums are
	// their summaries as the fleet came up.
	shadows    []*variant
	shadowSums []VariantSummary
	// green, during a blue/green update, is the new fleet, which takes
	// share of the requests.
	green *routing
	share float64
	// requests and failures (5xx or no answer) count what this fleet
	// served, for the rollback check.
	requests, failures *atomic.Int64
}

type variant struct {
	name   string
	weight float64
	model  *Model
	// containers and modelDirs are the model's containers, in order, and
	// their unpacked ModelDataUrl ("" for none).
	containers []ContainerDef
	modelDirs  []string
	direct     bool
	// modelsDir, for a multi-model variant, is the directory mounted at
	// /opt/ml/models, and models the models fetched into it, by
	// TargetModel (see multimodel.go).
	modelsDir string
	models    *modelCache
	instances atomic.Pointer[[]*instance]
	next      atomic.Uint64
}

// instance is one instance of a variant: a container per container of
// the model.
type instance struct {
	endpoint, variant string
	eps               []*platform.Endpoint
	// following counts the goroutines copying the containers' output.
	following sync.WaitGroup
	// loaded holds the multi-model names this instance has loaded.
	loaded sync.Map
}
