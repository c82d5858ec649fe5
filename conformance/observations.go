package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// observations is everything the plays saw; rules judge from it.
type observations struct {
	opts   *options
	claims map[Claim]bool
	image  Image

	layersErr error
	files     fileFacts

	train    *platform.Training
	trainErr error
	// modelFiles are the files the training run left in /opt/ml/model.
	modelFiles []string
	failure    *platform.Training
	failureErr error
	// provoked are the runs made to fail on purpose (failure is the first).
	provoked    []provokedRun
	sigterm     *platform.Training
	sigtermErr  error
	isolated    *platform.Training
	isolatedErr error
	multi       *platform.Training
	multiErr    error
	// multiResolve says how peer resolution was shown.
	multiResolve string

	serve *serveObs
	bind  *healthObs
	batch *batchObs
	mm    *mmObs
	gpu   gpuObs

	tkTrain *tkTrainObs
	tin     *tinObs
}

func (o *observations) trainHost() (platform.HostResult, error) {
	if o.train == nil || len(o.train.Hosts) == 0 {
		return platform.HostResult{}, fmt.Errorf("the training run did not happen: %v", o.trainErr)
	}
	return o.train.Hosts[0], nil
}

func (o *observations) serveErr() error {
	if o.serve == nil {
		return errors.New("not run")
	}
	return o.serve.err
}

func (o *observations) bindErr() error {
	if o.bind == nil {
		return errors.New("not run")
	}
	return o.bind.err
}

func (o *observations) batchErr() error {
	if o.batch == nil {
		return errors.New("not run")
	}
	if o.batch.err == nil && !o.batch.health.Healthy {
		return fmt.Errorf("no /ping 200 within %s", o.opts.windows.StartupTimeout)
	}
	return o.batch.err
}

func (o *observations) mmErr() error {
	if o.mm == nil {
		return errors.New("not run")
	}
	if o.mm.err == nil && !o.mm.health.Healthy {
		return fmt.Errorf("no /ping 200 within %s with %s=true", o.opts.windows.StartupTimeout, optml.EnvMultiModel)
	}
	return o.mm.err
}

func (o *observations) expectations() string {
	var e []string
	if o.opts.expectStatus != 0 {
		e = append(e, fmt.Sprintf("status %d", o.opts.expectStatus))
	}
	if o.opts.expectBody != "" {
		e = append(e, fmt.Sprintf("a body containing %q", o.opts.expectBody))
	}
	if len(e) == 0 {
		return " (expected 2xx)"
	}
	return " (expected " + strings.Join(e, " and ") + ")"
}

// invocation is one HTTP exchange with a serving container.
type invocation struct {
	name        string
	size        int
	status      int
	contentType string
	body        []byte
	err         error
	elapsed     time.Duration
}

func (iv *invocation) ok(o *options) bool {
	if iv == nil || iv.err != nil {
		return false
	}
	if o.expectStatus != 0 {
		if iv.status != o.expectStatus {
			return false
		}
	} else if !is2xx(iv.status) {
		return false
	}
	return o.expectBody == "" || bytes.Contains(iv.body, []byte(o.expectBody))
}

func (iv *invocation) describe() string {
	switch {
	case iv == nil:
		return "no answer (not sent)"
	case iv.err != nil:
		return fmt.Sprintf("no answer after %s: %v", iv.elapsed.Round(time.Millisecond), iv.err)
	}
	s := strconv.Itoa(iv.status)
	if b := strings.TrimSpace(string(truncate(iv.body, 160))); b != "" {
		s += " " + strconv.Quote(b)
	}
	return s
}

func is2xx(code int) bool { return code >= 200 && code < 300 }

type healthObs struct {
	err    error
	health platform.Health
}

type serveObs struct {
	err error
	// noModel is true when training wrote no model, so serving got an
	// empty /opt/ml/model.
	noModel bool
	health  platform.Health
	// rw is the health of a second try with the model writable, made when
	// the read-only try exited.
	rw              *platform.Health
	roLogs          []byte
	logs            []byte
	first, sample   *invocation
	firstRetryDelay time.Duration
	large, headers  *invocation
	unsupported     *invocation
	notFound        *invocation
	models          *invocation
	bidiErr         error
	stop            platform.StopResult
	stopErr         error
}

func (s *serveObs) effectiveHealth() platform.Health {
	if s == nil {
		return platform.Health{}
	}
	if s.health.Healthy || s.rw == nil {
		return s.health
	}
	return *s.rw
}

func (s *serveObs) invocations() []*invocation {
	var out []*invocation
	for _, iv := range []*invocation{s.first, s.sample, s.large, s.headers, s.unsupported} {
		if iv != nil {
			out = append(out, iv)
		}
	}
	return out
}

type batchObs struct {
	err        error
	health     platform.Health
	execParams *invocation
	concurrent []*invocation
	records    *invocation
}

type mmObs struct {
	err                                 error
	health                              platform.Health
	load, reload, list, get, getUnknown *invocation
	invoke, invokeUnknown               *invocation
	del, getAfterDel, delAgain          *invocation
}

type gpuObs struct {
	noRuntime   bool
	err         error
	trained     bool
	trainExit   int
	trainReason string
	health      platform.Health
}
