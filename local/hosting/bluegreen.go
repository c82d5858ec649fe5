package hosting

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sagekit/sagekit/local/wire"
)

// DeploymentConfig is UpdateEndpoint's blue/green policy.
type DeploymentConfig struct {
	BlueGreenUpdatePolicy *struct {
		TrafficRoutingConfiguration struct {
			Type                  string
			WaitIntervalInSeconds int
			CanarySize            *Capacity
			LinearStepSize        *Capacity
		}
		TerminationWaitInSeconds         int
		MaximumExecutionTimeoutInSeconds int
	}
	AutoRollbackConfiguration *struct {
		Alarms []struct{ AlarmName string }
	}
}

// Capacity is a canary or linear step size.
type Capacity struct {
	Type  string
	Value int
}

// RollbackErrorRate is the share of 5xx answers (and unanswered requests)
// from the new fleet during a bake that rolls an update back: the local
// stand-in for the CloudWatch alarms of AutoRollbackConfiguration.
const RollbackErrorRate = 0.05

// UpdateEndpoint deploys configName blue/green: the new fleet comes up
// beside the old one, takes traffic all at once, as a canary or in linear
// steps (each followed by a bake of WaitIntervalInSeconds), and replaces
// it; a new fleet that fails /ping, or answers more than
// RollbackErrorRate of its requests with 5xx during a bake, is rolled
// back and the old fleet keeps serving.
func (m *Manager) UpdateEndpoint(name, configName string, dc *DeploymentConfig) (string, *wire.Error) {
	rec, e := m.DescribeEndpoint(name)
	if e != nil {
		return "", e
	}
	cfg, e := m.DescribeEndpointConfig(configName)
	if e != nil {
		return "", wire.Validation("Could not find endpoint configuration %q.", wire.ARN("endpoint-config", configName))
	}
	if rec.EndpointStatus != InService {
		return "", wire.Validation("Cannot update in-progress endpoint %q (status %s).", rec.EndpointArn, rec.EndpointStatus)
	}
	shares, bake, term, e := plan(dc)
	if e != nil {
		return "", e
	}
	m.mu.RLock()
	l := m.live[name]
	m.mu.RUnlock()
	if l == nil || !l.mu.TryLock() {
		return "", wire.Validation("Cannot update in-progress endpoint %q.", rec.EndpointArn)
	}
	m.update(name, func(r *Endpoint) { r.EndpointStatus, r.FailureReason, r.LastModifiedTime = Updating, "", wire.Now() })
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer l.mu.Unlock()
		sums, err := m.blueGreen(l, cfg, shares, bake, term)
		m.update(name, func(r *Endpoint) {
			r.EndpointStatus, r.LastModifiedTime = InService, wire.Now()
			if err != nil {
				r.FailureReason = "The update was rolled back: " + err.Error()
				return
			}
			r.EndpointConfigName, r.ProductionVariants = configName, sums
			r.ShadowProductionVariants = l.routing.Load().shadowSums
		})
		if err != nil {
			m.log.Info("endpoint update rolled back", "endpoint", name, "err", err)
		}
	}()
	return rec.EndpointArn, nil
}

// plan turns the policy into the new fleet's traffic shares, one per
// step, for a new fleet of n instances.
func plan(dc *DeploymentConfig) (shares func(n int) []float64, bake, term time.Duration, e *wire.Error) {
	all := func(int) []float64 { return []float64{1} }
	if dc == nil || dc.BlueGreenUpdatePolicy == nil {
		return all, 0, 0, nil
	}
	p := dc.BlueGreenUpdatePolicy
	t := p.TrafficRoutingConfiguration
	bake = time.Duration(t.WaitIntervalInSeconds) * time.Second
	term = time.Duration(p.TerminationWaitInSeconds) * time.Second
	size := func(c *Capacity, field string) (func(int) float64, *wire.Error) {
		if c == nil {
			return nil, wire.Validation("DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.%s is required for %s", field, t.Type)
		}
		if c.Value < 1 || (c.Type == "CAPACITY_PERCENT" && c.Value > 100) {
			return nil, wire.Validation("DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.%s.Value %d is out of range", field, c.Value)
		}
		if c.Type == "CAPACITY_PERCENT" {
			return func(int) float64 { return float64(c.Value) / 100 }, nil
		}
		return func(n int) float64 { return math.Min(1, float64(c.Value)/float64(max(n, 1))) }, nil
	}
	switch t.Type {
	case "ALL_AT_ONCE":
		return all, bake, term, nil
	case "CANARY":
		f, e := size(t.CanarySize, "CanarySize")
		if e != nil {
			return nil, 0, 0, e
		}
		return func(n int) []float64 { return []float64{f(n), 1} }, bake, term, nil
	case "LINEAR":
		f, e := size(t.LinearStepSize, "LinearStepSize")
		if e != nil {
			return nil, 0, 0, e
		}
		return func(n int) []float64 {
			var out []float64
			for k := 1; ; k++ {
				s := math.Min(1, float64(k)*f(n))
				out = append(out, s)
				if s >= 1 {
					return out
				}
			}
		}, bake, term, nil
	}
	return nil, 0, 0, wire.Validation("DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type %q is not supported", t.Type)
}

// blueGreen runs the deployment with l.mu held.
func (m *Manager) blueGreen(l *live, cfg *EndpointConfig, shares func(int) []float64, bake, term time.Duration) ([]VariantSummary, error) {
	blue := l.routing.Load()
	green, sums, err := m.bringUp(l.ctx, l.name, cfg)
	if err != nil {
		return nil, err
	}
	greenInstances := 0
	for _, v := range green.variants {
		greenInstances += len(*v.instances.Load())
	}
	rollback := func(err error) ([]VariantSummary, error) {
		l.routing.Store(blue)
		m.stopRouting(green)
		return nil, err
	}
	for _, share := range shares(greenInstances) {
		mixed := *blue
		mixed.green, mixed.share = green, share
		before := green.requests.Load()
		beforeErr := green.failures.Load()
		l.routing.Store(&mixed)
		if err := m.watch(l.ctx, green, bake); err != nil {
			return rollback(err)
		}
		n, f := green.requests.Load()-before, green.failures.Load()-beforeErr
		if n > 0 && float64(f)/float64(n) > RollbackErrorRate {
			return rollback(fmt.Errorf("the new fleet answered %d of %d requests with a server error during the bake (more than %.0f%%)", f, n, RollbackErrorRate*100))
		}
		if share >= 1 {
			break
		}
	}
	l.routing.Store(green)
	m.gauge(l.name, green)
	select {
	case <-time.After(term):
	case <-l.ctx.Done():
	}
	m.stopRouting(blue)
	return sums, nil
}

// watch pings the new fleet through the bake; a failed ping is an error.
func (m *Manager) watch(ctx context.Context, r *routing, bake time.Duration) error {
	end := time.Now().Add(bake)
	for {
		for _, v := range r.variants {
			for _, in := range *v.instances.Load() {
				for _, ep := range in.eps {
					if ok, code := ep.Exited(); ok {
						return fmt.Errorf("a container of variant %s exited with code %d during the bake", v.name, code)
					}
				}
			}
		}
		if !time.Now().Before(end) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Until(end), 500*time.Millisecond)):
		}
	}
}
