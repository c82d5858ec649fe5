package hosting

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are SageMaker's per-variant CloudWatch metrics, as Prometheus
// series labelled endpoint and variant.
type metrics struct {
	reg          *prometheus.Registry
	invocations  *prometheus.CounterVec
	errors4xx    *prometheus.CounterVec
	errors5xx    *prometheus.CounterVec
	modelLatency *prometheus.HistogramVec
	overhead     *prometheus.HistogramVec
	instances    *prometheus.GaugeVec
}

func newMetrics() *metrics {
	labels := []string{"endpoint", "variant"}
	buckets := []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &metrics{
		reg:          prometheus.NewRegistry(),
		invocations:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sagemaker_invocations_total", Help: "Requests sent to the variant (SageMaker's Invocations)."}, labels),
		errors4xx:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sagemaker_invocation_4xx_errors_total", Help: "Requests whose answer was a 4xx (Invocation4XXErrors)."}, labels),
		errors5xx:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sagemaker_invocation_5xx_errors_total", Help: "Requests whose answer was a 5xx (Invocation5XXErrors)."}, labels),
		modelLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sagemaker_model_latency_seconds", Help: "Time the container took to answer (ModelLatency).", Buckets: buckets}, labels),
		overhead:     prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sagemaker_overhead_latency_seconds", Help: "Time sagekit local added around the container (OverheadLatency).", Buckets: buckets}, labels),
		instances:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sagemaker_variant_instances", Help: "Instances in service per variant."}, labels),
	}
	m.reg.MustRegister(m.invocations, m.errors4xx, m.errors5xx, m.modelLatency, m.overhead, m.instances)
	return m
}

// observe records one invocation: status is what the client got (a 424
// ModelError counts by the container's own status).
func (m *metrics) observe(endpoint, variant string, status int, model, total time.Duration) {
	m.invocations.WithLabelValues(endpoint, variant).Inc()
	switch {
	case status >= 500:
		m.errors5xx.WithLabelValues(endpoint, variant).Inc()
	case status >= 400:
		m.errors4xx.WithLabelValues(endpoint, variant).Inc()
	}
	if model > 0 {
		m.modelLatency.WithLabelValues(endpoint, variant).Observe(model.Seconds())
	}
	m.overhead.WithLabelValues(endpoint, variant).Observe(max(total-model, 0).Seconds())
}

// MetricsHandler serves the Prometheus text format.
func (m *Manager) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{})
}
