package hosting

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// shadowTimeout bounds a shadow variant's answer.
const shadowTimeout = 60 * time.Second

// maxShadowInFlight bounds the copies under way; beyond it copies are
// dropped, so a slow shadow never holds up production.
const maxShadowInFlight = 256

// mirror sends a copy of a request that production variant v serves to
// each shadow variant, each with the probability SageMaker calls the
// traffic sampling percentage: the shadow's weight over v's (at most 1).
// Shadows' answers are discarded; their invocations, latencies and
// errors are counted under their own variant name.
func (m *Manager) mirror(endpoint string, rt *routing, v *variant, body []byte, hdr http.Header) {
	for _, s := range rt.shadows {
		if v.weight <= 0 || rand.Float64() >= s.weight/v.weight {
			continue
		}
		insts := *s.instances.Load()
		if len(insts) == 0 {
			continue
		}
		select {
		case m.shadowSlots <- struct{}{}:
		default:
			continue
		}
		in := insts[s.next.Add(1)%uint64(len(insts))]
		m.count(endpoint, s.name).Add(1)
		go func() {
			defer func() { <-m.shadowSlots }()
			m.shadowCall(endpoint, s, in, body, hdr)
		}()
	}
}

// shadowCall sends body through the shadow instance's containers, as
// Invoke does, and records the metrics.
func (m *Manager) shadowCall(endpoint string, s *variant, in *instance, body []byte, hdr http.Header) {
	ctx, cancel := context.WithTimeout(m.ctx, shadowTimeout)
	defer cancel()
	start := time.Now()
	order := make([]int, 0, len(in.eps))
	for i, c := range s.containers {
		if !s.direct || c.ContainerHostname == hdr.Get(HeaderTargetContainer) {
			order = append(order, i)
		}
	}
	status := http.StatusOK
	contentType := hdr.Get("Content-Type")
	var modelTime time.Duration
	for k, i := range order {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.eps[i].URL+"/invocations", bytes.NewReader(body))
		if err != nil {
			return
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if a := hdr.Get("Accept"); a != "" && k == len(order)-1 {
			req.Header.Set("Accept", a)
		}
		for _, h := range []string{HeaderCustomAttributes, HeaderInferenceID} {
			if x := hdr.Get(h); x != "" {
				req.Header.Set(h, x)
			}
		}
		sent := time.Now()
		resp, err := m.client.Do(req)
		if err != nil {
			modelTime += time.Since(sent)
			status = http.StatusInternalServerError
			break
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		modelTime += time.Since(sent)
		if err != nil || resp.StatusCode/100 != 2 {
			status = resp.StatusCode
			if err != nil {
				status = http.StatusInternalServerError
			}
			break
		}
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			contentType = ct
		}
	}
	m.metrics.observe(endpoint, s.name, status, modelTime, time.Since(start))
}
