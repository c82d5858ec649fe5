package platform

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// ErrTransformFailed is returned (wrapped) by Transform when the job ran but
// at least one input file failed; the result says which.
var ErrTransformFailed = errors.New("transform job failed")

// SplitType is TransformInput.SplitType: how an input file is cut into
// records.
type SplitType string

// Split types a local transform supports (RecordIO and TFRecord are not).
const (
	// SplitNone sends each file as one record (the default).
	SplitNone SplitType = "None"
	// SplitLine makes each line a record, its newline kept.
	SplitLine SplitType = "Line"
)

// AssembleWith is TransformOutput.AssembleWith.
type AssembleWith string

// Ways to assemble responses into an output file.
const (
	// AssembleNone concatenates the response bodies (the default).
	AssembleNone AssembleWith = "None"
	// AssembleLine adds a newline after every response body.
	AssembleLine AssembleWith = "Line"
)

// Limits and defaults of batch transform (contract §3.1, §3.2).
const (
	DefaultMaxConcurrentTransforms = 1
	DefaultMaxPayloadInMB          = 6
	MaxPayloadInMBLimit            = 100
	DefaultInvocationsTimeout      = 600 * time.Second
	DefaultInvocationsMaxRetries   = 3
	// NoRetries, as TransformJob.InvocationsMaxRetries, sends each request
	// once.
	NoRetries = -1
	// DefaultStartupTimeout is how long the container has to answer 200
	// on /ping (contract §11.1).
	DefaultStartupTimeout = 240 * time.Second
)

// TransformJob is a batch transform job as SageMaker would run it
// (contract §3).
type TransformJob struct {
	// Image is the image reference in the local engine.
	Image string
	// Model is a model directory or a model.tar.gz, mounted (unpacked)
	// read-only at /opt/ml/model.
	Model string
	// ModelLimits bound what unpacking a model.tar.gz may write; zero
	// fields take the defaults.
	ModelLimits ExtractLimits
	// Input is the directory whose files (all of them, in lexical order
	// of their paths) are transformed.
	Input string
	// Output is the directory receiving <relative path>.out for each input
	// file that succeeded.
	Output string
	// ContentType is sent as Content-Type, Accept as Accept (both omitted
	// when empty).
	ContentType, Accept string
	// SplitType defaults to SplitNone.
	SplitType SplitType
	// BatchStrategy, MaxPayloadInMB and MaxConcurrentTransforms, when set
	// (non-empty, positive), win over what the container proposes on
	// /execution-parameters, which wins over the defaults (MultiRecord,
	// 6, 1). Set ones are passed to the container as SAGEMAKER_* variables.
	BatchStrategy           optml.BatchStrategy
	MaxPayloadInMB          int
	MaxConcurrentTransforms int
	// AssembleWith defaults to AssembleNone.
	AssembleWith AssembleWith
	// InvocationsTimeout limits each request (default 600 s, at most 1 h).
	InvocationsTimeout time.Duration
	// InvocationsMaxRetries is how often a request that timed out or got
	// a 5xx is retried (0-3; zero means the default 3, NoRetries none).
	InvocationsMaxRetries int
	// StartupTimeout is the deadline for the first 200 on /ping (default
	// 240 s).
	StartupTimeout time.Duration
	// Env is the job's Environment.
	Env map[string]string
	// GPU attaches every GPU of the engine.
	GPU bool
	// OnFile, when set, is called as each input file finishes (from
	// several goroutines, one call at a time).
	OnFile func(FileResult)
}

// FileResult is what became of one input file.
type FileResult struct {
	// Input is the path relative to the input directory (slash-separated).
	Input string
	// Output is the .out file written, "" when the file failed.
	Output string
	// Records and Requests count the records and the /invocations calls.
	Records, Requests int
	// Err says why the file failed.
	Err error
}

// TransformResult is a finished batch transform job.
type TransformResult struct {
	// Params are the parameters the job ran with.
	Params optml.ExecutionParameters
	// Container is what /execution-parameters proposed (nil when the
	// container does not implement it).
	Container *optml.ExecutionParameters
	// Files are in the order of the input files.
	Files []FileResult
	// Logs are the container's stdout and stderr.
	Logs []byte
}

// Failed lists the files that failed.
func (r *TransformResult) Failed() []FileResult {
	var out []FileResult
	for _, f := range r.Files {
		if f.Err != nil {
			out = append(out, f)
		}
	}
	return out
}

// ValidationError lists everything wrong with a TransformJob.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid transform job: " + strings.Join(e.Problems, "; ")
}

// Validate checks the job's own settings, before any container runs.
func (j TransformJob) Validate() error {
	var p []string
	if j.Image == "" {
		p = append(p, "no image given")
	}
	if j.Model == "" {
		p = append(p, "no model given: pass a model directory or model.tar.gz")
	}
	if st, err := os.Stat(j.Input); err != nil || !st.IsDir() {
		p = append(p, fmt.Sprintf("input %q is not a directory", j.Input))
	}
	if j.Output == "" {
		p = append(p, "no output directory given")
	}
	switch j.SplitType {
	case "", SplitNone, SplitLine:
	default:
		p = append(p, fmt.Sprintf("split type %q is not supported: use None or Line", j.SplitType))
	}
	switch j.BatchStrategy {
	case "", optml.SingleRecord, optml.MultiRecord:
	default:
		p = append(p, fmt.Sprintf("batch strategy %q: use SingleRecord or MultiRecord", j.BatchStrategy))
	}
	switch j.AssembleWith {
	case "", AssembleNone, AssembleLine:
	default:
		p = append(p, fmt.Sprintf("assemble with %q: use None or Line", j.AssembleWith))
	}
	if j.MaxPayloadInMB < 0 || j.MaxConcurrentTransforms < 0 {
		p = append(p, "MaxPayloadInMB and MaxConcurrentTransforms must not be negative")
	}
	p = append(p, checkParams(j.MaxConcurrentTransforms, j.MaxPayloadInMB)...)
	if j.InvocationsTimeout < 0 || j.InvocationsTimeout > time.Hour {
		p = append(p, fmt.Sprintf("invocations timeout %s: use 1s to 1h", j.InvocationsTimeout))
	}
	if j.InvocationsMaxRetries > 3 || j.InvocationsMaxRetries < NoRetries {
		p = append(p, fmt.Sprintf("invocations max retries %d: use 0 to 3", j.InvocationsMaxRetries))
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func checkParams(conc, mb int) []string {
	var p []string
	if mb > MaxPayloadInMBLimit {
		p = append(p, fmt.Sprintf("MaxPayloadInMB %d is over the limit of %d: lower it", mb, MaxPayloadInMBLimit))
	}
	if conc > 0 && mb > 0 && conc*mb > MaxPayloadInMBLimit {
		p = append(p, fmt.Sprintf("MaxConcurrentTransforms × MaxPayloadInMB = %d × %d = %d is over %d: lower either", conc, mb, conc*mb, MaxPayloadInMBLimit))
	}
	return p
}
