package hosting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagekit/sagekit/local/logs"
	"github.com/sagekit/sagekit/local/store"
	"github.com/sagekit/sagekit/local/wire"
)

// Endpoint statuses.
const (
	Creating       = "Creating"
	InService      = "InService"
	Updating       = "Updating"
	SystemUpdating = "SystemUpdating"
	Deleting       = "Deleting"
	Failed         = "Failed"
)

// New returns a Manager. Endpoints a previous process left running are
// re-created (SystemUpdating, then InService or Failed); those it left
// Deleting are deleted.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 4 * time.Minute
	}
	if o.Logs == nil {
		o.Logs = logs.New()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	m := &Manager{logs: o.Logs, metrics: newMetrics(), ctx: ctx, st: o.Store, engine: o.Engine, mover: o.Mover, dir: o.Dir, log: o.Log, health: o.HealthTimeout, live: map[string]*live{}, shadowSlots: make(chan struct{}, maxShadowInFlight),
		gpu: o.GPU, limits: o.ModelLimits, observer: o.Observer,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024, IdleConnTimeout: 90 * time.Second}, Timeout: 60 * time.Second}}
	var again []Endpoint
	err := o.Store.Each(store.Endpoints, func(_ string, raw []byte) bool {
		var e Endpoint
		if json.Unmarshal(raw, &e) == nil {
			again = append(again, e)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading endpoints: %w", err)
	}
	for _, ep := range again {
		switch ep.EndpointStatus {
		case Deleting:
			o.Store.Delete(store.Endpoints, ep.EndpointName)
		case Failed:
		default:
			if e := m.start(ep.EndpointName, ep.EndpointConfigName, ep.CreationTime, SystemUpdating, ep.ProductionVariants); e != nil {
				m.update(ep.EndpointName, func(r *Endpoint) {
					r.EndpointStatus, r.FailureReason, r.LastModifiedTime = Failed, "re-creating the endpoint after a restart: "+e.Message, wire.Now()
				})
			}
		}
	}
	return m, nil
}

// CreateEndpoint records the endpoint as Creating and starts its variants.
func (m *Manager) CreateEndpoint(name, configName string) (string, *wire.Error) {
	if _, e := m.DescribeEndpointConfig(configName); e != nil {
		return "", wire.Validation("Could not find endpoint configuration %q.", wire.ARN("endpoint-config", configName))
	}
	var existing Endpoint
	if m.st.Get(store.Endpoints, name, &existing) == nil {
		return "", wire.Validation("Cannot create already existing endpoint %q.", wire.ARN("endpoint", name))
	}
	if e := m.start(name, configName, nil, Creating, nil); e != nil {
		return "", e
	}
	return wire.ARN("endpoint", name), nil
}

// start records the endpoint with status and brings its fleet up in the
// background. Variants named in last (the record of a fleet that ran
// before a restart) come back with their last desired weight and
// instance count, so an autoscaled or re-weighted variant keeps them.
func (m *Manager) start(name, configName string, created *wire.Time, status string, last []VariantSummary) *wire.Error {
	cfg, e := m.DescribeEndpointConfig(configName)
	if e != nil {
		return e
	}
	for i, pv := range cfg.ProductionVariants {
		for _, sum := range last {
			if sum.VariantName != pv.VariantName {
				continue
			}
			w := sum.DesiredWeight
			cfg.ProductionVariants[i].InitialVariantWeight = &w
			if sum.DesiredInstanceCount > 0 {
				cfg.ProductionVariants[i].InitialInstanceCount = sum.DesiredInstanceCount
			}
		}
	}
	now := wire.Now()
	if created == nil {
		created = now
	}
	rec := Endpoint{EndpointName: name, EndpointArn: wire.ARN("endpoint", name), EndpointConfigName: configName, EndpointStatus: status, CreationTime: created, LastModifiedTime: now}
	ctx, cancel := context.WithCancel(m.ctx)
	l := &live{name: name, cancel: cancel, ctx: ctx}
	l.mu.Lock()
	m.mu.Lock()
	if _, ok := m.live[name]; ok {
		m.mu.Unlock()
		l.mu.Unlock()
		cancel()
		return wire.Validation("Cannot create already existing endpoint %q.", rec.EndpointArn)
	}
	m.live[name] = l
	m.mu.Unlock()
	if err := m.st.Put(store.Endpoints, name, &rec); err != nil {
		l.mu.Unlock()
		return wire.Internal("recording the endpoint: %v", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer l.mu.Unlock()
		r, summaries, err := m.bringUp(ctx, name, cfg)
		m.update(name, func(rec *Endpoint) {
			rec.LastModifiedTime = wire.Now()
			if err != nil {
				rec.EndpointStatus, rec.FailureReason = Failed, err.Error()
				return
			}
			rec.EndpointStatus, rec.FailureReason, rec.ProductionVariants = InService, "", summaries
			rec.ShadowProductionVariants = r.shadowSums
		})
		if err != nil {
			m.log.Info("endpoint failed", "endpoint", name, "err", err)
			return
		}
		l.routing.Store(r)
		m.gauge(name, r)
		m.log.Info("endpoint in service", "endpoint", name)
	}()
	return nil
}

// bringUp starts every variant's instances and waits for them to answer
// /ping; on failure it removes what it started.
func (m *Manager) bringUp(ctx context.Context, name string, cfg *EndpointConfig) (*routing, []VariantSummary, error) {
	r := &routing{requests: new(atomic.Int64), failures: new(atomic.Int64)}
	var sums []VariantSummary
	np := len(cfg.ProductionVariants)
	for k, pv := range append(slices.Clip(cfg.ProductionVariants), cfg.ShadowProductionVariants...) {
		shadow := k >= np
		mdl, e := m.DescribeModel(pv.ModelName)
		if e != nil {
			m.stopRouting(r)
			return nil, nil, fmt.Errorf("production variant %s: model %s no longer exists", pv.VariantName, pv.ModelName)
		}
		v := &variant{name: pv.VariantName, weight: pv.weight(), model: mdl}
		v.containers, v.direct = mdl.containers()
		v.instances.Store(&[]*instance{})
		if shadow {
			r.shadows = append(r.shadows, v)
		} else {
			r.variants = append(r.variants, v)
			r.total += v.weight
		}
		if err := m.prepareModel(ctx, name, v); err != nil {
			m.stopRouting(r)
			return nil, nil, fmt.Errorf("production variant %s: %w", pv.VariantName, err)
		}
		insts, err := m.startInstances(ctx, name, v, pv.InitialInstanceCount)
		v.instances.Store(&insts)
		if err != nil {
			m.stopRouting(r)
			return nil, nil, fmt.Errorf("The primary container for production variant %s did not pass the ping health check: %w", pv.VariantName, err)
		}
		sum := VariantSummary{VariantName: v.name, CurrentWeight: v.weight, DesiredWeight: v.weight,
			CurrentInstanceCount: len(insts), DesiredInstanceCount: len(insts)}
		for _, c := range v.containers {
			sum.DeployedImages = append(sum.DeployedImages, DeployedImage{SpecifiedImage: c.Image, ResolvedImage: m.resolve(ctx, c.Image), ResolutionTime: wire.Now()})
		}
		if shadow {
			r.shadowSums = append(r.shadowSums, sum)
			continue
		}
		sums = append(sums, sum)
	}
	return r, sums, nil
}

func (m *Manager) resolve(ctx context.Context, image string) string {
	ins, err := m.engine.Client().ImageInspect(ctx, image)
	if err != nil {
		return ""
	}
	return ins.ID
}

func (m *Manager) stopRouting(r *routing) {
	if r == nil {
		return
	}
	var wg sync.WaitGroup
	for _, v := range append(slices.Clip(r.variants), r.shadows...) {
		for _, in := range *v.instances.Load() {
			wg.Go(func() { m.stopInstance(in) })
		}
	}
	wg.Wait()
}

// gauge sets the instance-count series of the endpoint's variants.
func (m *Manager) gauge(endpoint string, r *routing) {
	for _, v := range append(slices.Clip(r.variants), r.shadows...) {
		m.metrics.instances.WithLabelValues(endpoint, v.name).Set(float64(len(*v.instances.Load())))
	}
}

func (m *Manager) count(endpoint, variant string) *atomic.Int64 {
	c, _ := m.counts.LoadOrStore(endpoint+"/"+variant, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// VariantLoad returns the variant's invocations so far and its instance
// count; ok is false unless the endpoint is InService.
func (m *Manager) VariantLoad(endpoint, variant string) (int64, int, bool) {
	rec, e := m.DescribeEndpoint(endpoint)
	if e != nil || rec.EndpointStatus != InService {
		return 0, 0, false
	}
	m.mu.RLock()
	l := m.live[endpoint]
	m.mu.RUnlock()
	if l == nil || l.routing.Load() == nil {
		return 0, 0, false
	}
	for _, v := range l.routing.Load().variants {
		if v.name == variant {
			return m.count(endpoint, variant).Load(), len(*v.instances.Load()), true
		}
	}
	return 0, 0, false
}

// Resize sets the variant's instance count, as
// UpdateEndpointWeightsAndCapacities does, and waits until the endpoint
// is InService again.
func (m *Manager) Resize(endpoint, variant string, n int) error {
	if _, e := m.UpdateWeightsAndCapacities(endpoint, []DesiredWeightAndCapacity{{VariantName: variant, DesiredInstanceCount: &n}}); e != nil {
		return e
	}
	for {
		rec, e := m.DescribeEndpoint(endpoint)
		if e != nil {
			return e
		}
		if rec.EndpointStatus != Updating {
			if rec.FailureReason != "" {
				return fmt.Errorf("%s", rec.FailureReason)
			}
			return nil
		}
		select {
		case <-m.ctx.Done():
			return m.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DescribeEndpoint returns the endpoint's record.
func (m *Manager) DescribeEndpoint(name string) (*Endpoint, *wire.Error) {
	var r Endpoint
	if e := get(m.st, store.Endpoints, name, "endpoint", &r); e != nil {
		return nil, e
	}
	return &r, nil
}

// DeleteEndpoint stops the endpoint's containers and removes its record.
func (m *Manager) DeleteEndpoint(name string) *wire.Error {
	rec, e := m.DescribeEndpoint(name)
	if e != nil {
		return e
	}
	if rec.EndpointStatus == Creating || rec.EndpointStatus == Updating || rec.EndpointStatus == SystemUpdating {
		return wire.Validation("Cannot delete endpoint %q while it is %s; wait until it is InService or Failed.", rec.EndpointArn, rec.EndpointStatus)
	}
	m.mu.Lock()
	l := m.live[name]
	delete(m.live, name)
	m.mu.Unlock()
	m.update(name, func(r *Endpoint) { r.EndpointStatus, r.LastModifiedTime = Deleting, wire.Now() })
	if l != nil {
		l.cancel()
		l.mu.Lock()
		if r := l.routing.Load(); r != nil {
			m.stopRouting(r)
			for _, v := range r.variants {
				m.metrics.instances.DeleteLabelValues(name, v.name)
			}
		}
		l.mu.Unlock()
	}
	os.RemoveAll(filepath.Join(m.dir, name))
	if err := m.st.Delete(store.Endpoints, name); err != nil {
		return wire.Internal("deleting endpoint %s: %v", name, err)
	}
	return nil
}

// Close stops every endpoint's containers; the records stay, so the next
// start re-creates them.
func (m *Manager) Close() {
	m.mu.Lock()
	ls := make([]*live, 0, len(m.live))
	for _, l := range m.live {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range ls {
		l.cancel()
		wg.Go(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			m.stopRouting(l.routing.Load())
		})
	}
	wg.Wait()
	m.wg.Wait()
}

func (m *Manager) update(name string, f func(*Endpoint)) {
	var r Endpoint
	if err := m.st.Get(store.Endpoints, name, &r); err != nil {
		return
	}
	f(&r)
	if err := m.st.Put(store.Endpoints, name, &r); err != nil {
		m.log.Error("recording endpoint", "endpoint", name, "err", err)
	}
}
