package hosting

import (
	"context"
	"fmt"

	"github.com/sagekit/sagekit/local/wire"
)

// DesiredWeightAndCapacity is one entry of
// UpdateEndpointWeightsAndCapacities.
type DesiredWeightAndCapacity struct {
	VariantName          string
	DesiredWeight        *float64
	DesiredInstanceCount *int
}

// UpdateWeightsAndCapacities changes variants' weights at once (one
// atomic swap of the routing table, so no request fails or sees half the
// change) and their instance counts in the background: new instances join
// once they answer /ping, removed ones leave the table before they stop.
// The endpoint is Updating until the fleet matches.
func (m *Manager) UpdateWeightsAndCapacities(name string, desired []DesiredWeightAndCapacity) (string, *wire.Error) {
	rec, e := m.DescribeEndpoint(name)
	if e != nil {
		return "", e
	}
	if rec.EndpointStatus != InService {
		return "", wire.Validation("Cannot update in-progress endpoint %q (status %s).", rec.EndpointArn, rec.EndpointStatus)
	}
	m.mu.RLock()
	l := m.live[name]
	m.mu.RUnlock()
	if l == nil || !l.mu.TryLock() {
		return "", wire.Validation("Cannot update in-progress endpoint %q.", rec.EndpointArn)
	}
	old := l.routing.Load()
	byName := map[string]*variant{}
	for _, v := range old.variants {
		byName[v.name] = v
	}
	seen := map[string]bool{}
	for i, d := range desired {
		if byName[d.VariantName] == nil {
			l.mu.Unlock()
			return "", wire.Validation("The variant(s) \"[%s]\" is/are not present in the endpoint %q.", d.VariantName, rec.EndpointArn)
		}
		if seen[d.VariantName] {
			l.mu.Unlock()
			return "", wire.Validation("DesiredWeightsAndCapacities: variant %q is given twice", d.VariantName)
		}
		seen[d.VariantName] = true
		if d.DesiredWeight == nil && d.DesiredInstanceCount == nil {
			l.mu.Unlock()
			return "", wire.Validation("DesiredWeightsAndCapacities.%d.member: set DesiredWeight, DesiredInstanceCount or both", i+1)
		}
	}
	// Weights: a new table with new variant values sharing the instances.
	nr := &routing{requests: old.requests, failures: old.failures, shadows: old.shadows, shadowSums: old.shadowSums}
	for _, v := range old.variants {
		w := v.weight
		for _, d := range desired {
			if d.VariantName == v.name && d.DesiredWeight != nil {
				w = *d.DesiredWeight
			}
		}
		nv := &variant{name: v.name, weight: w, model: v.model, containers: v.containers, modelDirs: v.modelDirs, direct: v.direct, modelsDir: v.modelsDir, models: v.models}
		nv.instances.Store(v.instances.Load())
		nr.variants = append(nr.variants, nv)
		nr.total += w
	}
	if nr.total <= 0 {
		l.mu.Unlock()
		return "", wire.Validation("The sum of the variants' weights must be greater than 0.")
	}
	l.routing.Store(nr)
	m.update(name, func(r *Endpoint) {
		r.EndpointStatus, r.LastModifiedTime = Updating, wire.Now()
		for i := range r.ProductionVariants {
			pv := &r.ProductionVariants[i]
			for _, d := range desired {
				if d.VariantName != pv.VariantName {
					continue
				}
				if d.DesiredWeight != nil {
					pv.DesiredWeight, pv.CurrentWeight = *d.DesiredWeight, *d.DesiredWeight
				}
				if d.DesiredInstanceCount != nil {
					pv.DesiredInstanceCount = *d.DesiredInstanceCount
				}
			}
		}
	})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer l.mu.Unlock()
		var failure error
		for _, d := range desired {
			if d.DesiredInstanceCount == nil {
				continue
			}
			if err := m.resize(l.ctx, l, d.VariantName, *d.DesiredInstanceCount); err != nil && failure == nil {
				failure = err
			}
		}
		cur := l.routing.Load()
		m.gauge(name, cur)
		m.update(name, func(r *Endpoint) {
			r.EndpointStatus, r.LastModifiedTime = InService, wire.Now()
			r.FailureReason = ""
			if failure != nil {
				r.FailureReason = failure.Error()
			}
			for i := range r.ProductionVariants {
				for _, v := range cur.variants {
					if v.name == r.ProductionVariants[i].VariantName {
						r.ProductionVariants[i].CurrentInstanceCount = len(*v.instances.Load())
						r.ProductionVariants[i].DesiredInstanceCount = len(*v.instances.Load())
					}
				}
			}
		})
	}()
	return rec.EndpointArn, nil
}

// resize brings a variant to n instances. Called with l.mu held.
func (m *Manager) resize(ctx context.Context, l *live, variantName string, n int) error {
	var v *variant
	for _, x := range l.routing.Load().variants {
		if x.name == variantName {
			v = x
		}
	}
	if v == nil {
		return fmt.Errorf("variant %s is gone", variantName)
	}
	cur := *v.instances.Load()
	switch {
	case n > len(cur):
		more, err := m.startInstances(ctx, l.name, v, n-len(cur))
		if err != nil {
			return fmt.Errorf("adding instances to variant %s: %w", variantName, err)
		}
		all := append(append([]*instance{}, cur...), more...)
		v.instances.Store(&all)
	case n < len(cur):
		keep := append([]*instance{}, cur[:n]...)
		v.instances.Store(&keep)
		for _, in := range cur[n:] {
			m.stopInstance(in)
		}
	}
	return nil
}
