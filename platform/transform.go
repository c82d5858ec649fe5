package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Transform runs a batch transform job: it starts `IMAGE serve` with the
// model mounted read-only and SAGEMAKER_BATCH=true, waits for a 200 on
// /ping, asks /execution-parameters, then sends every input file to
// /invocations split, batched and assembled as the job says, writing
// <name>.out only for files whose every record succeeded. A failed file
// does not stop the others; Transform then returns the result and an error
// wrapping ErrTransformFailed. The container is removed before Transform
// returns, also when ctx is cancelled.
func (e *Engine) Transform(ctx context.Context, job TransformJob) (*TransformResult, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	if job.SplitType == "" {
		job.SplitType = SplitNone
	}
	if job.AssembleWith == "" {
		job.AssembleWith = AssembleNone
	}
	if job.InvocationsTimeout == 0 {
		job.InvocationsTimeout = DefaultInvocationsTimeout
	}
	switch job.InvocationsMaxRetries {
	case 0:
		job.InvocationsMaxRetries = DefaultInvocationsMaxRetries
	case NoRetries:
		job.InvocationsMaxRetries = 0
	}
	if job.StartupTimeout <= 0 {
		job.StartupTimeout = DefaultStartupTimeout
	}
	files, err := inputFiles(job.Input)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(job.Output, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output directory: %w", err)
	}
	modelDir, cleanup, err := ModelDir(ctx, job.Model, job.ModelLimits)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	env := map[string]string{optml.EnvBatch: "true"}
	if job.MaxPayloadInMB > 0 {
		env[optml.EnvMaxPayloadInMB] = strconv.Itoa(job.MaxPayloadInMB)
	}
	if job.BatchStrategy != "" {
		env[optml.EnvBatchStrategy] = job.BatchStrategy.Env()
	}
	if job.MaxConcurrentTransforms > 0 {
		env[optml.EnvMaxConcurrentTransforms] = strconv.Itoa(job.MaxConcurrentTransforms)
	}
	maps.Copy(env, job.Env)
	ep, err := e.Serve(ctx, EndpointSpec{Image: job.Image, ModelDir: modelDir, Env: env, GPU: job.GPU, Role: "transform"})
	if err != nil {
		return nil, err
	}
	res := &TransformResult{}
	defer func() {
		res.Logs, _ = ep.Logs(context.WithoutCancel(ctx))
		ep.Remove(ctx)
	}()
	h := ep.WaitHealthy(ctx, job.StartupTimeout, optml.PingTimeoutSeconds*time.Second)
	if !h.Healthy {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		return res, unhealthyError(h, job.StartupTimeout)
	}
	cp, err := executionParameters(ctx, ep.URL)
	if err != nil {
		return res, err
	}
	res.Container = cp
	res.Params = effectiveParams(job, cp)
	if p := checkParams(res.Params.MaxConcurrentTransforms, res.Params.MaxPayloadInMB); len(p) > 0 {
		return res, &ValidationError{Problems: append(p, "(values from /execution-parameters; set them on the job to override)")}
	}
	res.Files = make([]FileResult, len(files))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = res.Params.MaxConcurrentTransforms
	defer tr.CloseIdleConnections()
	t := &transformer{job: job, url: ep.URL, params: res.Params, client: &http.Client{Transport: tr}}
	t.run(ctx, files, res.Files)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if failed := res.Failed(); len(failed) > 0 {
		errs := []error{fmt.Errorf("%w: %d of %d input files failed", ErrTransformFailed, len(failed), len(res.Files))}
		for _, f := range failed {
			errs = append(errs, f.Err)
		}
		return res, errors.Join(errs...)
	}
	return res, nil
}

func unhealthyError(h Health, deadline time.Duration) error {
	switch {
	case h.Exited:
		return fmt.Errorf("the container exited with code %d before answering 200 on %s: check its logs", h.ExitCode, optml.RoutePing)
	case h.Answered:
		return fmt.Errorf("the container did not answer 200 on %s within %s (last status %d)", optml.RoutePing, deadline, h.LastStatus)
	default:
		return fmt.Errorf("the container did not answer on %s within %s (%v): it must listen on 0.0.0.0:%d", optml.RoutePing, deadline, h.LastErr, optml.DefaultPort)
	}
}

// inputFiles lists the regular files under dir, slash-separated and
// relative to dir, in lexical order.
func inputFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the input files: %w", err)
	}
	return files, nil
}

// executionParameters asks the container; nil means it has no such route.
func executionParameters(ctx context.Context, base string) (*optml.ExecutionParameters, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+optml.RouteExecutionParameters, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", optml.RouteExecutionParameters, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", optml.RouteExecutionParameters, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	var raw struct {
		MaxConcurrentTransforms *int
		BatchStrategy           *string
		MaxPayloadInMB          *int
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("parsing %s response %q: %w (want {\"MaxConcurrentTransforms\": 1, \"BatchStrategy\": \"optml.MultiRecord\", \"MaxPayloadInMB\": 6})", optml.RouteExecutionParameters, truncateBytes(body, 200), err)
	}
	var p optml.ExecutionParameters
	if raw.MaxConcurrentTransforms != nil {
		if *raw.MaxConcurrentTransforms < 1 {
			return nil, fmt.Errorf("%s: MaxConcurrentTransforms %d: the container must propose at least 1", optml.RouteExecutionParameters, *raw.MaxConcurrentTransforms)
		}
		p.MaxConcurrentTransforms = *raw.MaxConcurrentTransforms
	}
	if raw.MaxPayloadInMB != nil {
		if *raw.MaxPayloadInMB < 1 {
			return nil, fmt.Errorf("%s: MaxPayloadInMB %d: unlimited (chunked) payloads are not supported locally; set the job's MaxPayloadInMB", optml.RouteExecutionParameters, *raw.MaxPayloadInMB)
		}
		p.MaxPayloadInMB = *raw.MaxPayloadInMB
	}
	if raw.BatchStrategy != nil && *raw.BatchStrategy != "" {
		b, err := optml.ParseBatchStrategy(*raw.BatchStrategy)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", optml.RouteExecutionParameters, err)
		}
		p.BatchStrategy = b
	}
	return &p, nil
}

// effectiveParams applies the precedence job > container > default.
func effectiveParams(job TransformJob, cp *optml.ExecutionParameters) optml.ExecutionParameters {
	p := optml.ExecutionParameters{MaxConcurrentTransforms: DefaultMaxConcurrentTransforms, BatchStrategy: optml.MultiRecord, MaxPayloadInMB: DefaultMaxPayloadInMB}
	if cp != nil {
		if cp.MaxConcurrentTransforms > 0 {
			p.MaxConcurrentTransforms = cp.MaxConcurrentTransforms
		}
		if cp.BatchStrategy != "" {
			p.BatchStrategy = cp.BatchStrategy
		}
		if cp.MaxPayloadInMB > 0 {
			p.MaxPayloadInMB = cp.MaxPayloadInMB
		}
	}
	if job.MaxConcurrentTransforms > 0 {
		p.MaxConcurrentTransforms = job.MaxConcurrentTransforms
	}
	if job.BatchStrategy != "" {
		p.BatchStrategy = job.BatchStrategy
	}
	if job.MaxPayloadInMB > 0 {
		p.MaxPayloadInMB = job.MaxPayloadInMB
	}
	return p
}

// transformer sends the requests of every file through one pool of
// MaxConcurrentTransforms workers, so both the batches of a file and
// successive files overlap, while each file's responses keep their order.
type transformer struct {
	job    TransformJob
	url    string
	params optml.ExecutionParameters
	client *http.Client
	cbMu   sync.Mutex
}

// fileRun is one input file in flight.
type fileRun struct {
	res     *FileResult
	batches []batch
	bodies  [][]byte

	mu      sync.Mutex
	pending int
	err     error
}

// batch is one request body: records first..last (1-based, inclusive).
type batch struct {
	body        []byte
	first, last int
}

type task struct {
	f *fileRun
	i int
}

func (t *transformer) run(ctx context.Context, files []string, results []FileResult) {
	tasks := make(chan task)
	var wg sync.WaitGroup
	for range t.params.MaxConcurrentTransforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tk := range tasks {
				t.do(ctx, tk)
			}
		}()
	}
	for i, name := range files {
		if ctx.Err() != nil {
			break
		}
		results[i].Input = name
		f := &fileRun{res: &results[i]}
		if err := t.prepare(name, f); err != nil {
			f.res.Err = err
			t.report(*f.res)
			continue
		}
		if len(f.batches) == 0 {
			t.finish(f)
			continue
		}
		f.pending = len(f.batches)
		f.bodies = make([][]byte, len(f.batches))
	send:
		for j := range f.batches {
			select {
			case tasks <- task{f, j}:
			case <-ctx.Done():
				break send
			}
		}
	}
	close(tasks)
	wg.Wait()
}

// prepare reads the file and cuts it into request bodies.
func (t *transformer) prepare(name string, f *fileRun) error {
	data, err := os.ReadFile(filepath.Join(t.job.Input, filepath.FromSlash(name)))
	if err != nil {
		return fmt.Errorf("%s: reading: %w", name, err)
	}
	var records [][]byte
	if t.job.SplitType == SplitLine {
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				i = len(data) - 1
			}
			records = append(records, data[:i+1])
			data = data[i+1:]
		}
	} else {
		records = [][]byte{data}
	}
	f.res.Records = len(records)
	limit := t.params.MaxPayloadInMB << 20
	var cur batch
	for i, r := range records {
		if len(r) > limit {
			return fmt.Errorf("%s: record %d is %d bytes, larger than MaxPayloadInMB=%d (%d bytes): raise MaxPayloadInMB or split the input into smaller records", name, i+1, len(r), t.params.MaxPayloadInMB, limit)
		}
		if cur.first > 0 && (t.params.BatchStrategy == optml.SingleRecord || len(cur.body)+len(r) > limit) {
			f.batches = append(f.batches, cur)
			cur = batch{}
		}
		if cur.first == 0 {
			cur.first = i + 1
		}
		cur.body = append(cur.body, r...)
		cur.last = i + 1
	}
	if cur.first > 0 {
		f.batches = append(f.batches, cur)
	}
	f.res.Requests = len(f.batches)
	return nil
}

func (t *transformer) do(ctx context.Context, tk task) {
	f := tk.f
	f.mu.Lock()
	failed := f.err != nil
	f.mu.Unlock()
	var body []byte
	var err error
	if !failed && ctx.Err() == nil {
		body, err = t.invoke(ctx, f.batches[tk.i].body)
		if err != nil {
			b := f.batches[tk.i]
			which := fmt.Sprintf("record %d", b.first)
			if b.last > b.first {
				which = fmt.Sprintf("records %d-%d", b.first, b.last)
			}
			err = fmt.Errorf("%s: %s: %w", f.res.Input, which, err)
		}
	}
	f.mu.Lock()
	f.bodies[tk.i] = body
	if err != nil && f.err == nil {
		f.err = err
	}
	f.pending--
	done := f.pending == 0
	f.mu.Unlock()
	if done && ctx.Err() == nil {
		t.finish(f)
	}
}

// finish assembles and writes the output of a file whose requests are all
// done, unless one failed.
func (t *transformer) finish(f *fileRun) {
	if f.err == nil {
		var out bytes.Buffer
		for _, b := range f.bodies {
			out.Write(b)
			if t.job.AssembleWith == AssembleLine {
				out.WriteByte('\n')
			}
		}
		dst := filepath.Join(t.job.Output, filepath.FromSlash(f.res.Input)+".out")
		err := os.MkdirAll(filepath.Dir(dst), 0o755)
		if err == nil {
			err = optml.WriteFileAtomic(dst, out.Bytes(), 0o644)
		}
		if err != nil {
			f.err = fmt.Errorf("%s: writing the output: %w", f.res.Input, err)
		} else {
			f.res.Output = dst
		}
	}
	f.res.Err = f.err
	f.bodies = nil
	t.report(*f.res)
}

func (t *transformer) report(r FileResult) {
	if t.job.OnFile == nil {
		return
	}
	t.cbMu.Lock()
	defer t.cbMu.Unlock()
	t.job.OnFile(r)
}

// invoke POSTs body to /invocations, retrying timeouts, connection errors
// and 5xx responses.
func (t *transformer) invoke(ctx context.Context, body []byte) ([]byte, error) {
	var last error
	for attempt := 0; attempt <= t.job.InvocationsMaxRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out, retry, err := t.invokeOnce(ctx, body)
		if err == nil {
			return out, nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			return nil, err
		}
	}
	if t.job.InvocationsMaxRetries > 0 {
		return nil, fmt.Errorf("%w (after %d retries)", last, t.job.InvocationsMaxRetries)
	}
	return nil, last
}

func (t *transformer) invokeOnce(ctx context.Context, body []byte) (out []byte, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.job.InvocationsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+optml.RouteInvocations, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	if t.job.ContentType != "" {
		req.Header.Set("Content-Type", t.job.ContentType)
	}
	if t.job.Accept != "" {
		req.Header.Set("Accept", t.job.Accept)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		if isTimeout(err) {
			return nil, true, fmt.Errorf("POST %s: no response within %s", optml.RouteInvocations, t.job.InvocationsTimeout)
		}
		return nil, true, fmt.Errorf("POST %s: %w", optml.RouteInvocations, err)
	}
	defer resp.Body.Close()
	out, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, true, fmt.Errorf("POST %s: reading the response: %w", optml.RouteInvocations, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.StatusCode >= 500, fmt.Errorf("POST %s: %s: %q", optml.RouteInvocations, resp.Status, truncateBytes(out, 200))
	}
	return out, false, nil
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
