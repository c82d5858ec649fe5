// Package scaling is Application Auto Scaling for sagekit local's endpoint
// variants: scalable targets with min and max capacity, target tracking
// policies on SageMakerVariantInvocationsPerInstance with scale-out and
// scale-in cool-downs, and the scaling activities they cause. Each
// instance is a container; the variant's instance count follows load.
// The targets, policies and activities persist in the store.
package scaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
)

// What SageMaker variants are scaled by.
const (
	Namespace = "sagemaker"
	Dimension = "sagemaker:variant:DesiredInstanceCount"
	Metric    = "SageMakerVariantInvocationsPerInstance"
)

// Fleet is what the scaler needs of the endpoints.
type Fleet interface {
	// VariantLoad returns how many requests the variant has had since it
	// started, and its instance count; ok is false when it is not
	// InService.
	VariantLoad(endpoint, variant string) (invocations int64, instances int, ok bool)
	// Resize asks for n instances of the variant.
	Resize(endpoint, variant string, n int) error
}

// Target is a scalable target (DescribeScalableTargets' entry).
type Target struct {
	ServiceNamespace  string     `json:"ServiceNamespace"`
	ResourceId        string     `json:"ResourceId"`
	ScalableDimension string     `json:"ScalableDimension"`
	MinCapacity       *int       `json:"MinCapacity"`
	MaxCapacity       *int       `json:"MaxCapacity"`
	RoleARN           string     `json:"RoleARN"`
	CreationTime      *wire.Time `json:"CreationTime"`
	ScalableTargetARN string     `json:"ScalableTargetARN"`
}

// Policy is a scaling policy (DescribeScalingPolicies' entry).
type Policy struct {
	PolicyARN                                string          `json:"PolicyARN"`
	PolicyName                               string          `json:"PolicyName"`
	ServiceNamespace                         string          `json:"ServiceNamespace"`
	ResourceId                               string          `json:"ResourceId"`
	ScalableDimension                        string          `json:"ScalableDimension"`
	PolicyType                               string          `json:"PolicyType"`
	TargetTrackingScalingPolicyConfiguration *TargetTracking `json:"TargetTrackingScalingPolicyConfiguration"`
	Alarms                                   []any           `json:"Alarms"`
	CreationTime                             *wire.Time      `json:"CreationTime"`
}

// TargetTracking is a target tracking configuration.
type TargetTracking struct {
	TargetValue                   float64 `json:"TargetValue"`
	PredefinedMetricSpecification *struct {
		PredefinedMetricType string `json:"PredefinedMetricType"`
		ResourceLabel        string `json:"ResourceLabel,omitempty"`
	} `json:"PredefinedMetricSpecification,omitempty"`
	ScaleOutCooldown int  `json:"ScaleOutCooldown"`
	ScaleInCooldown  int  `json:"ScaleInCooldown"`
	DisableScaleIn   bool `json:"DisableScaleIn"`
}

// Activity is a scaling activity.
type Activity struct {
	ActivityId        string     `json:"ActivityId"`
	ServiceNamespace  string     `json:"ServiceNamespace"`
	ResourceId        string     `json:"ResourceId"`
	ScalableDimension string     `json:"ScalableDimension"`
	Description       string     `json:"Description"`
	Cause             string     `json:"Cause"`
	StartTime         *wire.Time `json:"StartTime"`
	EndTime           *wire.Time `json:"EndTime,omitempty"`
	StatusCode        string     `json:"StatusCode"`
	StatusMessage     string     `json:"StatusMessage,omitempty"`
}

// Scaler keeps targets and policies and applies them every period.
type Scaler struct {
	fleet  Fleet
	st     *store.Store
	period time.Duration
	window time.Duration
	log    *slog.Logger

	mu         sync.Mutex
	targets    map[string]*Target // by ResourceId
	policies   map[string]*Policy // by ResourceId + "/" + PolicyName
	activities []Activity
	samples    map[string][]sample // by ResourceId
	lastOut    map[string]time.Time
	lastIn     map[string]time.Time
}

type sample struct {
	at          time.Time
	invocations int64
}

// New returns a Scaler that looks at load every period, over the last
// window (SageMaker's metric is per minute: period 1 minute, window 1
// minute by default). Its targets, policies, activities and cool-down
// clocks are kept in st, and loaded from it, so they survive a restart.
func New(fleet Fleet, st *store.Store, period, window time.Duration, log *slog.Logger) (*Scaler, error) {
	if period <= 0 {
		period = time.Minute
	}
	if window <= 0 {
		window = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scaler{fleet: fleet, st: st, period: period, window: window, log: log, targets: map[string]*Target{}, policies: map[string]*Policy{},
		samples: map[string][]sample{}, lastOut: map[string]time.Time{}, lastIn: map[string]time.Time{}}
	var saved state
	switch err := st.Get(store.Scaling, stateKey, &saved); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("reading the autoscaling state: %w", err)
	default:
		for _, t := range saved.Targets {
			s.targets[t.ResourceId] = t
		}
		for _, p := range saved.Policies {
			s.policies[p.ResourceId+"/"+p.PolicyName] = p
		}
		s.activities = saved.Activities
		maps.Copy(s.lastOut, saved.LastOut)
		maps.Copy(s.lastIn, saved.LastIn)
	}
	return s, nil
}

// MaxActivities bounds the activities kept; older ones are dropped first.
const MaxActivities = 1000

// stateKey is the one record of the Scaling bucket.
const stateKey = "state"

// state is what the Scaler keeps in the store.
type state struct {
	Targets    []*Target            `json:"Targets"`
	Policies   []*Policy            `json:"Policies"`
	Activities []Activity           `json:"Activities"`
	LastOut    map[string]time.Time `json:"LastOut"`
	LastIn     map[string]time.Time `json:"LastIn"`
}

// save records the state; s.mu is held.
func (s *Scaler) save() {
	if len(s.activities) > MaxActivities {
		s.activities = slices.Delete(s.activities, 0, len(s.activities)-MaxActivities)
	}
	st := state{Activities: s.activities, LastOut: s.lastOut, LastIn: s.lastIn}
	for _, t := range s.targets {
		st.Targets = append(st.Targets, t)
	}
	for _, p := range s.policies {
		st.Policies = append(st.Policies, p)
	}
	if err := s.st.Put(store.Scaling, stateKey, &st); err != nil {
		s.log.Error("recording the autoscaling state", "err", err)
	}
}

func notFound(format string, a ...any) *wire.Error {
	return &wire.Error{Code: wire.CodeScalingNotFound, Status: 400, Message: fmt.Sprintf(format, a...)}
}

// parseResource splits endpoint/E/variant/V.
func parseResource(id string) (endpoint, variant string, ok bool) {
	f := strings.Split(id, "/")
	if len(f) != 4 || f[0] != "endpoint" || f[2] != "variant" || f[1] == "" || f[3] == "" {
		return "", "", false
	}
	return f[1], f[3], true
}

func checkKey(ns, id, dim string) *wire.Error {
	if ns != Namespace {
		return wire.Validation("sagekit local scales ServiceNamespace %q only, not %q", Namespace, ns)
	}
	if dim != Dimension {
		return wire.Validation("ScalableDimension must be %s", Dimension)
	}
	if _, _, ok := parseResource(id); !ok {
		return wire.Validation("ResourceId %q is not endpoint/ENDPOINT/variant/VARIANT", id)
	}
	return nil
}

// Register creates or updates a scalable target.
func (s *Scaler) Register(t Target) (string, *wire.Error) {
	if e := checkKey(t.ServiceNamespace, t.ResourceId, t.ScalableDimension); e != nil {
		return "", e
	}
	ep, v, _ := parseResource(t.ResourceId)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.targets[t.ResourceId]
	if old == nil {
		if t.MinCapacity == nil || t.MaxCapacity == nil {
			return "", wire.Validation("MinCapacity and MaxCapacity are required to register a new scalable target")
		}
		if _, _, ok := s.fleet.VariantLoad(ep, v); !ok {
			return "", wire.Validation("Endpoint %s or its variant %s is not InService.", ep, v)
		}
		t.CreationTime = wire.Now()
		t.ScalableTargetARN = "arn:aws:application-autoscaling:" + wire.Region + ":" + wire.Account + ":scalable-target/" + randHex()
	} else {
		if t.MinCapacity == nil {
			t.MinCapacity = old.MinCapacity
		}
		if t.MaxCapacity == nil {
			t.MaxCapacity = old.MaxCapacity
		}
		t.CreationTime, t.ScalableTargetARN = old.CreationTime, old.ScalableTargetARN
	}
	if *t.MinCapacity < 1 || *t.MaxCapacity < *t.MinCapacity {
		return "", wire.Validation("MinCapacity (%d) must be at least 1 and at most MaxCapacity (%d)", *t.MinCapacity, *t.MaxCapacity)
	}
	s.targets[t.ResourceId] = &t
	s.save()
	return t.ScalableTargetARN, nil
}

// Deregister removes a target and its policies.
func (s *Scaler) Deregister(ns, id, dim string) *wire.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.targets[id] == nil || ns != Namespace || dim != Dimension {
		return notFound("No scalable target registered for service namespace: %s, resource ID: %s, scalable dimension: %s", ns, id, dim)
	}
	delete(s.targets, id)
	for k := range s.policies {
		if strings.HasPrefix(k, id+"/") {
			delete(s.policies, k)
		}
	}
	s.save()
	return nil
}

// Targets answers DescribeScalableTargets.
func (s *Scaler) Targets(ids []string) []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Target{}
	for id, t := range s.targets {
		if len(ids) == 0 || slices.Contains(ids, id) {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.ResourceId, b.ResourceId) })
	return out
}

// Put creates or replaces a target tracking policy.
func (s *Scaler) Put(p Policy) (string, *wire.Error) {
	if e := checkKey(p.ServiceNamespace, p.ResourceId, p.ScalableDimension); e != nil {
		return "", e
	}
	if p.PolicyType == "" {
		p.PolicyType = "StepScaling"
	}
	if p.PolicyType != "TargetTrackingScaling" {
		return "", wire.Validation("PolicyType %q is not supported by sagekit local: use TargetTrackingScaling", p.PolicyType)
	}
	c := p.TargetTrackingScalingPolicyConfiguration
	if c == nil || c.PredefinedMetricSpecification == nil || c.PredefinedMetricSpecification.PredefinedMetricType != Metric {
		return "", wire.Validation("TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType must be %s (CustomizedMetricSpecification is not supported by sagekit local)", Metric)
	}
	if c.TargetValue <= 0 {
		return "", wire.Validation("TargetTrackingScalingPolicyConfiguration.TargetValue must be greater than 0")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.targets[p.ResourceId] == nil {
		return "", notFound("No scalable target registered for service namespace: %s, resource ID: %s, scalable dimension: %s", p.ServiceNamespace, p.ResourceId, p.ScalableDimension)
	}
	key := p.ResourceId + "/" + p.PolicyName
	if old := s.policies[key]; old != nil {
		p.PolicyARN, p.CreationTime = old.PolicyARN, old.CreationTime
	} else {
		p.PolicyARN = "arn:aws:autoscaling:" + wire.Region + ":" + wire.Account + ":scalingPolicy:" + randHex() + ":resource/SageMaker/" + p.ResourceId + ":policyName/" + p.PolicyName
		p.CreationTime = wire.Now()
	}
	p.Alarms = []any{}
	s.policies[key] = &p
	s.save()
	return p.PolicyARN, nil
}

// Delete removes a policy.
func (s *Scaler) Delete(name, ns, id, dim string) *wire.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := id + "/" + name
	if s.policies[key] == nil {
		return notFound("No scaling policy found for service namespace: %s, resource ID: %s, scalable dimension: %s, policy name: %s", ns, id, dim, name)
	}
	delete(s.policies, key)
	s.save()
	return nil
}

// Policies answers DescribeScalingPolicies.
func (s *Scaler) Policies(names []string, id string) []Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Policy{}
	for _, p := range s.policies {
		if (id == "" || p.ResourceId == id) && (len(names) == 0 || slices.Contains(names, p.PolicyName)) {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b Policy) int { return strings.Compare(a.PolicyARN, b.PolicyARN) })
	return out
}

// Activities answers DescribeScalingActivities, newest first.
func (s *Scaler) Activities(id string) []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Activity{}
	for i := len(s.activities) - 1; i >= 0; i-- {
		if id == "" || s.activities[i].ResourceId == id {
			out = append(out, s.activities[i])
		}
	}
	return out
}

// Run applies the policies every period until ctx ends.
func (s *Scaler) Run(ctx context.Context) {
	t := time.NewTicker(s.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tick(time.Now())
		}
	}
}

// tick samples every target's load and scales where a policy says so.
func (s *Scaler) tick(now time.Time) {
	s.mu.Lock()
	type job struct {
		t *Target
		p *Policy
	}
	var jobs []job
	for id, t := range s.targets {
		for k, p := range s.policies {
			if strings.HasPrefix(k, id+"/") {
				jobs = append(jobs, job{t, p})
				break
			}
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		s.apply(now, j.t, j.p)
	}
}

func (s *Scaler) apply(now time.Time, t *Target, p *Policy) {
	ep, v, _ := parseResource(t.ResourceId)
	inv, n, ok := s.fleet.VariantLoad(ep, v)
	if !ok || n == 0 {
		return
	}
	s.mu.Lock()
	ss := append(s.samples[t.ResourceId], sample{now, inv})
	for len(ss) > 1 && now.Sub(ss[1].at) >= s.window {
		ss = ss[1:]
	}
	s.samples[t.ResourceId] = ss
	first := ss[0]
	s.mu.Unlock()
	span := now.Sub(first.at)
	if span < s.window/2 {
		return
	}
	perMinute := float64(inv-first.invocations) / float64(n) / span.Minutes()
	c := p.TargetTrackingScalingPolicyConfiguration
	desired := int(math.Ceil(float64(n) * perMinute / c.TargetValue))
	desired = max(*t.MinCapacity, min(*t.MaxCapacity, desired))
	s.mu.Lock()
	lastOut, lastIn := s.lastOut[t.ResourceId], s.lastIn[t.ResourceId]
	s.mu.Unlock()
	switch {
	case desired > n && now.Sub(lastOut) >= time.Duration(c.ScaleOutCooldown)*time.Second:
	case desired < n && !c.DisableScaleIn && now.Sub(later(lastIn, lastOut)) >= time.Duration(c.ScaleInCooldown)*time.Second:
	default:
		return
	}
	a := Activity{ActivityId: randHex(), ServiceNamespace: Namespace, ResourceId: t.ResourceId, ScalableDimension: Dimension,
		Description: fmt.Sprintf("Setting desired instance count to %d.", desired),
		Cause:       fmt.Sprintf("monitor alarm for policy %s: %s at %.1f per instance per minute, target %g: desired instance count %d (from %d)", p.PolicyName, Metric, perMinute, c.TargetValue, desired, n),
		StartTime:   wire.Now(), StatusCode: "InProgress"}
	// The activity is listed, InProgress, before the fleet changes, as
	// Application Auto Scaling lists it: a caller that sees the new
	// instance count also sees the activity that made it.
	s.mu.Lock()
	s.activities = append(s.activities, a)
	s.save()
	s.mu.Unlock()
	if err := s.fleet.Resize(ep, v, desired); err != nil {
		a.StatusCode, a.StatusMessage = "Failed", err.Error()
	} else {
		a.StatusCode = "Successful"
		a.StatusMessage = fmt.Sprintf("Successfully set desired instance count to %d. Change successfully fulfilled by sagemaker.", desired)
	}
	a.EndTime = wire.Now()
	s.log.Info("scaling", "resource", t.ResourceId, "from", n, "to", desired, "status", a.StatusCode)
	s.mu.Lock()
	if desired > n {
		s.lastOut[t.ResourceId] = now
	} else {
		s.lastIn[t.ResourceId] = now
	}
	// The window restarts: the new fleet's load is measured afresh.
	s.samples[t.ResourceId] = nil
	// Found by id: saving may have trimmed the oldest activities.
	if i := slices.IndexFunc(s.activities, func(x Activity) bool { return x.ActivityId == a.ActivityId }); i >= 0 {
		s.activities[i] = a
	} else {
		s.activities = append(s.activities, a)
	}
	s.save()
	s.mu.Unlock()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
