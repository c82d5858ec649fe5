package load

import (
	"math"
	"slices"
	"time"
)

// Result summarises one run of a load generator.
type Result struct {
	Requests     int           // completed requests, any status
	Non2xx       int           // completed requests whose status was not 2xx
	SocketErrors int           // connect, read and write errors and timeouts
	Elapsed      time.Duration // wall time of the run
	RPS          float64       // completed requests per second
	P50, P90     time.Duration
	P99, P999    time.Duration
	Max          time.Duration
	GenCPU       time.Duration // CPU time of the load generator's process (wrk), 0 when not known
}

// Errors is Non2xx plus SocketErrors.
func (r Result) Errors() int { return r.Non2xx + r.SocketErrors }

// summarise fills the latency fields from lat (sorted in place).
func (r *Result) summarise(lat []time.Duration) {
	if r.Elapsed > 0 {
		r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	r.P50 = Percentile(lat, 50)
	r.P90 = Percentile(lat, 90)
	r.P99 = Percentile(lat, 99)
	r.P999 = Percentile(lat, 99.9)
	r.Max = lat[len(lat)-1]
}

// Percentile returns the p-th percentile of sorted (nearest rank).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}
