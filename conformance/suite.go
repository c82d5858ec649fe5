package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// LabelRun labels every container and network of a run with its run id,
// so that a sweep (Sweep) can remove what an interrupted run left.
const LabelRun = "dev.sagekit.conformance"

// ErrUnknownRule is returned by Check when WithRules or WithSkip names no
// rule.
var ErrUnknownRule = errors.New("unknown rule")

// Check plays SageMaker against image (a reference in the local container
// engine) and judges every selected rule. The error is for runs that could
// not be carried out (no engine, no image, cancelled); a broken image is a
// report with failed rules. Every container and network the run creates is
// removed before Check returns, also when ctx is cancelled.
func Check(ctx context.Context, image string, opts ...Option) (*Report, error) {
	o := defaults()
	for _, opt := range opts {
		opt(o)
	}
	if o.runID == "" {
		b := make([]byte, 6)
		rand.Read(b)
		o.runID = hex.EncodeToString(b)
	}
	selected, err := selectRules(o.rules, o.skip)
	if err != nil {
		return nil, err
	}
	rep := &Report{RunID: o.runID, Profile: o.profile, Started: time.Now()}
	engOpts := []platform.Option{platform.WithLabels(map[string]string{LabelRun: o.runID}), platform.WithLogger(o.log)}
	if o.client != nil {
		engOpts = append(engOpts, platform.WithClient(o.client))
	}
	e, err := platform.New(ctx, append(engOpts, o.engine...)...)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if e.Client() == nil {
		return nil, errors.New("the container engine has no Docker client to inspect the image: pass WithClient with a backend of WithEngineOptions")
	}

	obs := &observations{opts: o, claims: map[Claim]bool{}}
	em := &emitter{f: o.events, started: rep.Started, phases: map[play]*Phase{}}
	em.play(EventPlayStarted, playStatic, 0, nil)
	start := time.Now()
	obs.image, err = inspectImage(ctx, e.Client(), image)
	em.play(EventPlayFinished, playStatic, time.Since(start), err)
	if err != nil {
		return nil, err
	}
	rep.Image = obs.image
	obs.claims = claimsOf(obs.image.Labels, o.toolkit)

	dir, err := os.MkdirTemp("", "sagekit-conformance-")
	if err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	r := &runner{e: e, opts: o, o: obs, dir: dir}

	need := playsFor(selected, o.profile, obs.claims)
	var wg sync.WaitGroup
	launch := func(p play, f func(context.Context)) {
		if !need[p] {
			return
		}
		wg.Go(func() {
			em.play(EventPlayStarted, p, 0, nil)
			t := time.Now()
			f(ctx)
			em.play(EventPlayFinished, p, time.Since(t), nil)
		})
	}
	layersDone := make(chan struct{})
	if need[playLayers] {
		launch(playLayers, func(ctx context.Context) {
			defer close(layersDone)
			if o.profile == ProfileGPU {
				// The GPU rules look for driver and CUDA files anywhere.
				obs.files, obs.layersErr = listFilesOf(ctx, e.Client(), image)
				return
			}
			obs.files, obs.layersErr = mergedFactsOf(ctx, e.Client(), image, map[string]string{LabelRun: o.runID})
		})
	} else {
		close(layersDone)
	}
	launch(playTrain, func(ctx context.Context) {
		r.playTrain(ctx)
		var sw sync.WaitGroup
		for _, p := range []struct {
			p play
			f func(context.Context)
		}{{playServe, r.playServe}, {playBind, r.playBind}, {playBatch, r.playBatch}, {playMultiModel, r.playMultiModel}} {
			if need[p.p] {
				sw.Go(func() {
					em.play(EventPlayStarted, p.p, 0, nil)
					t := time.Now()
					p.f(ctx)
					em.play(EventPlayFinished, p.p, time.Since(t), nil)
				})
			}
		}
		sw.Wait()
	})
	launch(playFailure, r.playFailure)
	launch(playSigterm, r.playSigterm)
	launch(playIsolated, r.playIsolated)
	launch(playMultiHost, func(ctx context.Context) { r.playMultiHost(ctx, layersDone) })
	launch(playGPU, r.playGPU)
	launch(playToolkitTraining, r.playToolkitTraining)
	launch(playToolkitInference, r.playToolkitInference)
	wg.Wait()

	if _, err := e.Sweep(ctx, LabelRun, o.runID); err != nil {
		o.log.Warn("removing containers", "err", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("conformance run %s interrupted: %w", o.runID, err)
	}
	rep.Results = evaluate(obs, selected, em)
	rep.Summary = summarize(rep.Results)
	rep.Phases = em.phaseList()
	rep.Duration = time.Since(rep.Started)
	return rep, nil
}

// Sweep removes every container and network labelled with LabelRun=runID
// (any run when runID is ""), for example after a run was killed.
func Sweep(ctx context.Context, runID string, opts ...Option) (int, error) {
	o := defaults()
	for _, opt := range opts {
		opt(o)
	}
	var engOpts []platform.Option
	if o.client != nil {
		engOpts = append(engOpts, platform.WithClient(o.client))
	}
	e, err := platform.New(ctx, append(engOpts, o.engine...)...)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	return e.Sweep(ctx, LabelRun, runID)
}

// emitter sends events and records when each play ran.
type emitter struct {
	mu      sync.Mutex
	f       func(Event)
	started time.Time
	phases  map[play]*Phase
	order   []play
}

func (em *emitter) play(k EventKind, p play, d time.Duration, err error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	switch k {
	case EventPlayStarted:
		em.phases[p] = &Phase{Name: string(p), Start: time.Since(em.started)}
		em.order = append(em.order, p)
	case EventPlayFinished:
		if ph := em.phases[p]; ph != nil {
			ph.Duration = d
			if err != nil {
				ph.Err = err.Error()
			}
		}
	}
	em.f(Event{Kind: k, Play: string(p), Elapsed: d, Err: err})
}

// phaseList returns the recorded plays in the order they started.
func (em *emitter) phaseList() []Phase {
	em.mu.Lock()
	defer em.mu.Unlock()
	out := make([]Phase, 0, len(em.order))
	for _, p := range em.order {
		out = append(out, *em.phases[p])
	}
	return out
}

// took is how long the plays of r ran: the time spent observing it.
func (em *emitter) took(r *Rule) (time.Duration, []string) {
	em.mu.Lock()
	defer em.mu.Unlock()
	var d time.Duration
	var names []string
	for _, p := range r.plays {
		if ph := em.phases[p]; ph != nil {
			d += ph.Duration
			names = append(names, string(p))
		}
	}
	return d, names
}

func (em *emitter) result(r Result) {
	em.mu.Lock()
	defer em.mu.Unlock()
	em.f(Event{Kind: EventResult, Result: &r})
}

// selectRules returns the rules chosen by include/exclude ids or prefixes.
func selectRules(include, exclude []string) ([]*Rule, error) {
	var errs []error
	for _, p := range slices.Concat(include, exclude) {
		if !slices.ContainsFunc(rules, func(r Rule) bool { return matches(r.ID, p) }) {
			errs = append(errs, fmt.Errorf("%w %q (sagekit test --list shows the rules)", ErrUnknownRule, p))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []*Rule
	for i := range rules {
		r := &rules[i]
		if len(include) > 0 && !slices.ContainsFunc(include, func(p string) bool { return matches(r.ID, p) }) {
			continue
		}
		if slices.ContainsFunc(exclude, func(p string) bool { return matches(r.ID, p) }) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func matches(id, pattern string) bool {
	// "T-" means the same prefix as "T".
	pattern = strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(pattern)), "-")
	return id == pattern || strings.HasPrefix(id, pattern+"-")
}

func claimsOf(labels map[string]string, forced []Claim) map[Claim]bool {
	c := map[Claim]bool{
		ClaimBindToPort:    labels[optml.LabelAcceptBindToPort] == "true",
		ClaimMultiModel:    labels[optml.LabelMultiModels] == "true",
		ClaimBidiStreaming: labels[optml.LabelBidirectionalStreaming] == "true",
	}
	for _, t := range strings.Split(labels[LabelToolkit], ",") {
		switch strings.TrimSpace(t) {
		case "training":
			c[ClaimToolkitTraining] = true
		case "inference":
			c[ClaimToolkitInference] = true
		}
	}
	for _, f := range forced {
		c[f] = true
	}
	return c
}

// applies says why r does not apply ("" when it does).
func applies(r *Rule, profile string, claims map[Claim]bool) string {
	if r.Profile != "" && r.Profile != profile {
		return fmt.Sprintf("%s profile only (sagekit test --gpu)", r.Profile)
	}
	if r.Claim != ClaimNone && !claims[r.Claim] {
		return "the image does not claim " + claimText(r.Claim)
	}
	return ""
}

func claimText(c Claim) string {
	switch c {
	case ClaimToolkitTraining, ClaimToolkitInference:
		kind := strings.TrimPrefix(string(c), "toolkit-")
		return fmt.Sprintf("%s toolkit compatibility (label %s=%s, or --toolkit %s)", kind, LabelToolkit, kind, kind)
	}
	return fmt.Sprintf("it (label com.amazonaws.sagemaker.capabilities.%s=true)", c)
}

// playsFor returns the plays the selected rules (and the rules they depend
// on) need.
func playsFor(selected []*Rule, profile string, claims map[Claim]bool) map[play]bool {
	need := map[play]bool{}
	seen := map[string]bool{}
	var add func(r *Rule)
	add = func(r *Rule) {
		if seen[r.ID] {
			return
		}
		seen[r.ID] = true
		if r.Advice != "" || applies(r, profile, claims) != "" {
			return
		}
		for _, p := range r.plays {
			need[p] = true
		}
		for _, d := range r.deps {
			add(ruleIndex[d])
		}
	}
	for _, r := range selected {
		add(r)
	}
	// Hosting serves the model training wrote.
	if need[playServe] || need[playBind] || need[playBatch] || need[playMultiModel] {
		need[playTrain] = true
	}
	return need
}

// evaluate judges every rule that selected rules need and returns the
// results of the selected ones, in rule order.
func evaluate(o *observations, selected []*Rule, em *emitter) []Result {
	memo := map[string]outcome{}
	var judge func(r *Rule) outcome
	judge = func(r *Rule) outcome {
		if oc, ok := memo[r.ID]; ok {
			return oc
		}
		oc := func() outcome {
			if r.Advice != "" {
				return outcome{status: StatusAdvice, msg: r.Advice}
			}
			if why := applies(r, o.opts.profile, o.claims); why != "" {
				return na("%s", why)
			}
			for _, d := range r.deps {
				dr := judge(ruleIndex[d])
				if dr.status != StatusFail && dr.status != StatusSkip {
					continue
				}
				if r.evidence != nil {
					if oc, ok := r.evidence(o); ok {
						return oc
					}
				}
				if dr.status == StatusFail {
					return skip("depends on %s, which failed", d)
				}
				return skip("depends on %s, which was skipped", d)
			}
			return r.check(o)
		}()
		memo[r.ID] = oc
		return oc
	}
	var out []Result
	for _, r := range selected {
		oc := judge(r)
		res := Result{ID: r.ID, Level: r.Level, Description: r.Description, Status: oc.status, Message: oc.msg}
		if oc.status == StatusPass || oc.status == StatusFail {
			res.Duration, res.Phases = em.took(r)
		}
		if oc.status == StatusFail {
			res.Hint = r.Hint
			if oc.fix != "" {
				res.Hint = oc.fix
			}
		}
		out = append(out, res)
		em.result(res)
	}
	return out
}
