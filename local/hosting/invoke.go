package hosting

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Runtime request and answer headers (botocore's sagemaker-runtime model).
const (
	HeaderCustomAttributes  = "X-Amzn-Sagemaker-Custom-Attributes"
	HeaderTargetVariant     = "X-Amzn-Sagemaker-Target-Variant"
	HeaderTargetModel       = "X-Amzn-Sagemaker-Target-Model"
	HeaderTargetContainer   = "X-Amzn-Sagemaker-Target-Container-Hostname"
	HeaderInferenceID       = "X-Amzn-Sagemaker-Inference-Id"
	HeaderInvokedVariant    = "X-Amzn-Invoked-Production-Variant"
	HeaderEnableExplanation = "X-Amzn-Sagemaker-Enable-Explanations"
	HeaderInferenceComp     = "X-Amzn-Sagemaker-Inference-Component"
	HeaderSessionID         = "X-Amzn-Sagemaker-Session-Id"
)

// MaxPayload is InvokeEndpoint's body limit.
const MaxPayload = 6 << 20

// Invoke answers POST /endpoints/{name}/invocations.
func (m *Manager) Invoke(w http.ResponseWriter, r *http.Request, name string) {
	start := time.Now()
	for _, h := range []string{HeaderEnableExplanation, HeaderInferenceComp, HeaderSessionID} {
		if r.Header.Get(h) != "" {
			wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("%s is not supported by sagekit local (docs/local.md)", h)})
			return
		}
	}
	m.mu.RLock()
	l := m.live[name]
	m.mu.RUnlock()
	var rt *routing
	if l != nil {
		rt = l.routing.Load()
	}
	if rt == nil {
		wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Endpoint %s of account %s not found.", name, wire.Account)})
		return
	}
	if rt.green != nil && rand.Float64() < rt.share {
		rt = rt.green
	}
	rt.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest, Message: "reading the request body: " + err.Error()})
		return
	}
	if len(body) > MaxPayload {
		wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request payload is larger than the limit of %d bytes.", MaxPayload)})
		return
	}
	v, e := rt.pick(r.Header.Get(HeaderTargetVariant))
	if e != nil {
		wire.WriteError(w, e)
		return
	}
	m.count(name, v.name).Add(1)
	if len(rt.shadows) > 0 {
		m.mirror(name, rt, v, body, r.Header)
	}
	insts := *v.instances.Load()
	if len(insts) == 0 {
		wire.WriteError(w, &wire.Error{Code: wire.CodeServiceUnavailable, Status: http.StatusServiceUnavailable, Message: "Variant " + v.name + " has no instance in service."})
		return
	}
	in := insts[v.next.Add(1)%uint64(len(insts))]
	// Which containers, in order: all of them (one, or a serial
	// pipeline), or the one TargetContainerHostname names (Direct).
	order := make([]int, len(in.eps))
	for i := range order {
		order[i] = i
	}
	target := r.Header.Get(HeaderTargetContainer)
	switch {
	case v.direct:
		order = nil
		for i, c := range v.containers {
			if c.ContainerHostname == target {
				order = []int{i}
			}
		}
		if order == nil {
			wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("TargetContainerHostname %q does not name a container of variant %s (a Direct model needs one)", target, v.name)})
			return
		}
	case target != "":
		wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: "TargetContainerHostname applies to models with InferenceExecutionConfig.Mode Direct only"})
		return
	}
	route := optml.RouteInvocations
	switch tm := r.Header.Get(HeaderTargetModel); {
	case v.models != nil && tm == "":
		wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Variant %s is a multi-model endpoint: name the model with TargetModel", v.name)})
		return
	case v.models != nil:
		var e *wire.Error
		if route, e = m.loadModel(r.Context(), v, in, tm); e != nil {
			wire.WriteError(w, e)
			return
		}
	case tm != "":
		wire.WriteError(w, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("TargetModel applies to multi-model endpoints (Mode MultiModel) only; variant %s is not one", v.name)})
		return
	}
	w.Header().Set(HeaderInvokedVariant, v.name)
	contentType := r.Header.Get("Content-Type")
	var modelTime time.Duration
	var resp *http.Response
	for k, i := range order {
		last := k == len(order)-1
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, in.eps[i].URL+route, bytes.NewReader(body))
		if err != nil {
			wire.WriteError(w, wire.Internal("%v", err))
			return
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if a := r.Header.Get("Accept"); a != "" && last {
			req.Header.Set("Accept", a)
		}
		for _, h := range []string{HeaderCustomAttributes, HeaderInferenceID} {
			if x := r.Header.Get(h); x != "" {
				req.Header.Set(h, x)
			}
		}
		sent := time.Now()
		resp, err = m.client.Do(req)
		var out []byte
		if err == nil {
			out, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		modelTime += time.Since(sent)
		name0 := containerName(v.containers[i], i)
		if err != nil {
			m.metrics.observe(name, v.name, http.StatusInternalServerError, modelTime, time.Since(start))
			rt.failures.Add(1)
			wire.WriteError(w, &wire.Error{Code: wire.CodeModelError, Status: http.StatusFailedDependency,
				Message: fmt.Sprintf("An error occurred while sending the request to the %s container of variant %s: %v", name0, v.name, err),
				Fields:  map[string]any{"OriginalStatusCode": 0, "OriginalMessage": err.Error(), "LogStreamArn": logStreamARN(name, v.name)}})
			return
		}
		if resp.StatusCode/100 != 2 {
			m.metrics.observe(name, v.name, resp.StatusCode, modelTime, time.Since(start))
			if resp.StatusCode >= 500 {
				rt.failures.Add(1)
			}
			kind := "client"
			if resp.StatusCode >= 500 {
				kind = "server"
			}
			wire.WriteError(w, &wire.Error{Code: wire.CodeModelError, Status: http.StatusFailedDependency,
				Message: fmt.Sprintf("Received %s error (%d) from %s with message \"%s\". See the log stream %s for more information.", kind, resp.StatusCode, name0, strings.TrimSpace(string(out)), logStreamARN(name, v.name)),
				Fields:  map[string]any{"OriginalStatusCode": resp.StatusCode, "OriginalMessage": string(out), "LogStreamArn": logStreamARN(name, v.name), "ErrorCode": strings.ToUpper(kind) + "_ERROR_FROM_MODEL"}})
			return
		}
		body = out
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			contentType = ct
		}
	}
	m.metrics.observe(name, v.name, resp.StatusCode, modelTime, time.Since(start))
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	if ca := resp.Header.Get(HeaderCustomAttributes); ca != "" {
		w.Header().Set(HeaderCustomAttributes, ca)
	}
	w.Write(body)
}

// pick chooses the target variant, or one at random in proportion to the
// weights.
func (rt *routing) pick(target string) (*variant, *wire.Error) {
	if target != "" {
		for _, v := range rt.variants {
			if v.name == target {
				return v, nil
			}
		}
		return nil, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Target variant %q does not exist on this endpoint.", target)}
	}
	if rt.total <= 0 {
		return nil, &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest, Message: "Every variant of the endpoint has weight 0; name one with TargetVariant."}
	}
	x := rand.Float64() * rt.total
	for _, v := range rt.variants {
		if x < v.weight {
			return v, nil
		}
		x -= v.weight
	}
	for i := len(rt.variants) - 1; i >= 0; i-- {
		if rt.variants[i].weight > 0 {
			return rt.variants[i], nil
		}
	}
	return rt.variants[0], nil
}

func logStreamARN(endpoint, variant string) string {
	return "arn:aws:logs:" + wire.Region + ":" + wire.Account + ":log-group:/aws/sagemaker/Endpoints/" + endpoint + ":log-stream:" + variant
}
