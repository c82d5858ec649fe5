package load

import (
	"context"
	"sync"
	"time"
)

// ClosedLoop keeps conns requests to t in flight for d: each connection
// sends its next request as soon as the previous answer arrives.
func ClosedLoop(ctx context.Context, t Target, conns int, d time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type part struct {
		lat          []time.Duration
		non2xx, errs int
	}
	parts := make([]part, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		wg.Go(func() {
			c := NewConn(t)
			defer c.Close()
			p := &parts[i]
			for ctx.Err() == nil {
				t0 := time.Now()
				status, err := c.Do()
				switch {
				case err != nil:
					p.errs++
					time.Sleep(time.Millisecond) // do not spin on a refused connection
					continue
				case status < 200 || status > 299:
					p.non2xx++
				}
				p.lat = append(p.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	r := Result{Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, p := range parts {
		lat = append(lat, p.lat...)
		r.Non2xx += p.non2xx
		r.SocketErrors += p.errs
	}
	r.Requests = len(lat)
	r.summarise(lat)
	return r
}

// OpenLoop sends requests to t at rate per second for d from a pool of at
// most pool connections. Latency runs from each request's scheduled send
// time, so waiting for a free connection counts. Requests still unanswered
// grace after the last was scheduled count as socket errors.
func OpenLoop(ctx context.Context, t Target, rate float64, d time.Duration, pool int, grace time.Duration) Result {
	n := int(rate * d.Seconds())
	sched := make(chan time.Time, n)
	lats := make([][]time.Duration, pool)
	non2xx := make([]int, pool)
	errs := make([]int, pool)
	var wg sync.WaitGroup
	deadline := time.Now().Add(d + grace)
	for i := range pool {
		wg.Go(func() {
			c := NewConn(t)
			defer c.Close()
			for at := range sched {
				if time.Now().After(deadline) || ctx.Err() != nil {
					errs[i]++
					continue
				}
				status, err := c.Do()
				if err != nil {
					errs[i]++
					continue
				}
				if status < 200 || status > 299 {
					non2xx[i]++
				}
				lats[i] = append(lats[i], time.Since(at))
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for k := range n {
		at := start.Add(time.Duration(k) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		sched <- at
	}
	close(sched)
	wg.Wait()
	r := Result{Elapsed: time.Since(start)}
	var lat []time.Duration
	for i := range pool {
		lat = append(lat, lats[i]...)
		r.Non2xx += non2xx[i]
		r.SocketErrors += errs[i]
	}
	r.Requests = len(lat)
	r.summarise(lat)
	return r
}

// Sequential sends t n times, one after another on one connection.
func Sequential(ctx context.Context, t Target, n int) Result {
	c := NewConn(t)
	defer c.Close()
	var r Result
	var lat []time.Duration
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		status, err := c.Do()
		if err != nil {
			r.SocketErrors++
			continue
		}
		if status < 200 || status > 299 {
			r.Non2xx++
		}
		lat = append(lat, time.Since(t0))
	}
	r.Elapsed = time.Since(start)
	r.Requests = len(lat)
	r.summarise(lat)
	return r
}

// Pinger sends t every interval (or at once when the last answer was late)
// until ctx ends, one request at a time, and summarises the latencies.
func Pinger(ctx context.Context, t Target, interval time.Duration) Result {
	c := NewConn(t)
	c.Timeout = 10 * time.Second
	defer c.Close()
	var r Result
	var lat []time.Duration
	start := time.Now()
	next := start
	for ctx.Err() == nil {
		if w := time.Until(next); w > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w):
			}
			if ctx.Err() != nil {
				break
			}
		}
		next = next.Add(interval)
		t0 := time.Now()
		status, err := c.Do()
		if err != nil {
			r.SocketErrors++
			continue
		}
		if status < 200 || status > 299 {
			r.Non2xx++
		}
		lat = append(lat, time.Since(t0))
	}
	r.Elapsed = time.Since(start)
	r.Requests = len(lat)
	r.summarise(lat)
	return r
}
