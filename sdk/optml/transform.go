package optml

import (
	"fmt"
	"strings"
)

// BatchStrategy is how batch transform packs records into a request:
// CreateTransformJob's BatchStrategy, and the container's proposal on
// GET /execution-parameters (contract §3.1, §11.5).
type BatchStrategy string

// Batch strategies, in the API's spelling.
const (
	// SingleRecord sends one record per request.
	SingleRecord BatchStrategy = "SingleRecord"
	// MultiRecord packs as many records as fit under MaxPayloadInMB.
	MultiRecord BatchStrategy = "MultiRecord"
)

// ParseBatchStrategy accepts the API spelling (SingleRecord, MultiRecord)
// and the environment spelling (SINGLE_RECORD, MULTI_RECORD), as containers
// answer /execution-parameters with either and SAGEMAKER_BATCH_STRATEGY
// carries the second.
func ParseBatchStrategy(s string) (BatchStrategy, error) {
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "_", "")) {
	case "SINGLERECORD":
		return SingleRecord, nil
	case "MULTIRECORD":
		return MultiRecord, nil
	}
	return "", fmt.Errorf("batch strategy %q: want SingleRecord or MultiRecord (SINGLE_RECORD or MULTI_RECORD)", s)
}

// Env is b in the spelling of SAGEMAKER_BATCH_STRATEGY.
func (b BatchStrategy) Env() string {
	if b == SingleRecord {
		return "SINGLE_RECORD"
	}
	return "MULTI_RECORD"
}

// ExecutionParameters are the three parameters a container may propose on
// GET /execution-parameters (its JSON body) and a transform job may set.
type ExecutionParameters struct {
	MaxConcurrentTransforms int           `json:"MaxConcurrentTransforms"`
	BatchStrategy           BatchStrategy `json:"BatchStrategy"`
	MaxPayloadInMB          int           `json:"MaxPayloadInMB"`
}
