package hosting

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/logs"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// prepareModel makes each container's ModelDataUrl a directory to mount.
func (m *Manager) prepareModel(ctx context.Context, endpoint string, v *variant) error {
	// A directory per fleet: a blue/green update unpacks beside the
	// model the old fleet still has mounted.
	gen := strconv.FormatInt(time.Now().UnixNano(), 36)
	v.modelDirs = make([]string, len(v.containers))
	for i, c := range v.containers {
		if c.ModelDataUrl == "" {
			continue
		}
		loc, err := data.Parse(c.ModelDataUrl)
		if err != nil {
			return err
		}
		if c.Mode == ModeMultiModel {
			// Models are fetched when a request first names them.
			v.modelsDir = filepath.Join(m.dir, endpoint, gen, v.name, "models")
			if err := os.MkdirAll(v.modelsDir, 0o755); err != nil {
				return fmt.Errorf("creating the models directory: %w", err)
			}
			v.models = &modelCache{prefix: loc, dir: v.modelsDir, limits: m.limits, fetched: map[string]*fetch{}}
			continue
		}
		if loc.Scheme == "file" {
			if fi, err := os.Stat(loc.Path); err == nil && fi.IsDir() {
				v.modelDirs[i] = loc.Path
				continue
			}
		}
		base := filepath.Join(m.dir, endpoint, gen, v.name, strconv.Itoa(i+1))
		archive, err := m.mover.File(ctx, loc, filepath.Join(base, "model.tar.gz"))
		if err != nil {
			return fmt.Errorf("Could not access model data at %s: %w", c.ModelDataUrl, err)
		}
		dir := filepath.Join(base, "model")
		if err := platform.UnpackModel(ctx, archive, dir, m.limits); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("unpacking the model: %w", err)
		}
		v.modelDirs[i] = dir
	}
	return nil
}

// startInstances starts n instances of v at once and waits until each
// answers /ping. On error it returns the instances that are healthy;
// the others are removed.
func (m *Manager) startInstances(ctx context.Context, endpoint string, v *variant, n int) ([]*instance, error) {
	type res struct {
		in  *instance
		err error
	}
	ch := make(chan res, n)
	for range n {
		go func() {
			in, err := m.startInstance(ctx, endpoint, v)
			ch <- res{in, err}
		}()
	}
	var out []*instance
	var errs []error
	for range n {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		out = append(out, r.in)
	}
	if len(errs) > 0 {
		for _, in := range out {
			m.stopInstance(in)
		}
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func (m *Manager) startInstance(ctx context.Context, endpoint string, v *variant) (*instance, error) {
	// The containers of a pipeline start at once.
	in := &instance{endpoint: endpoint, variant: v.name, eps: make([]*platform.Endpoint, len(v.containers))}
	errs := make([]error, len(v.containers))
	var starting sync.WaitGroup
	for i, c := range v.containers {
		spec := platform.EndpointSpec{Image: c.Image, ModelDir: v.modelDirs[i], Env: c.Environment, Role: "endpoint", GPU: m.gpu}
		if c.Mode == ModeMultiModel {
			spec.ModelsDir = v.modelsDir
		}
		if len(v.containers) > 1 {
			// As SageMaker runs several containers on one instance: each
			// on its own port, told by SAGEMAKER_BIND_TO_PORT.
			spec.BindToPort = 8080 + 100*i
		}
		starting.Go(func() { in.eps[i], errs[i] = m.engine.Serve(ctx, spec) })
	}
	starting.Wait()
	if err := errors.Join(errs...); err != nil {
		m.stopInstance(in)
		return nil, err
	}
	for i, c := range v.containers {
		ep := in.eps[i]
		stream := v.name + "/i-" + ep.ID[:17]
		if len(v.containers) > 1 {
			stream += "/" + containerName(c, i)
		}
		w := m.logs.Writer(logs.GroupEndpoints+endpoint, stream)
		stdout, stderr := m.observer.ContainerOutput(endpoint, v.name, ep)
		in.following.Go(func() {
			ep.FollowLogs(context.WithoutCancel(ctx), also(w, stdout), also(w, stderr))
			w.Flush()
		})
	}
	for i, ep := range in.eps {
		h := ep.WaitHealthy(ctx, m.health, optml.PingTimeoutSeconds*time.Second)
		m.observer.ContainerHealth(endpoint, v.name, ep, h)
		if h.Healthy {
			continue
		}
		logs, _ := ep.Logs(context.WithoutCancel(ctx))
		m.stopInstance(in)
		why := fmt.Sprintf("no 200 from /ping within %s", m.health)
		if h.Exited {
			why = fmt.Sprintf("the container exited with code %d", h.ExitCode)
		}
		if ctx.Err() != nil {
			why = "the endpoint was deleted or the server stopped"
		}
		if len(logs) > 512 {
			logs = logs[len(logs)-512:]
		}
		return nil, fmt.Errorf("container %s: %s; last log lines: %q", containerName(v.containers[i], i), why, logs)
	}
	return in, nil
}

// containerName is how messages name a container: its hostname, else
// "primary" or container-N as SageMaker does.
func containerName(c ContainerDef, i int) string {
	switch {
	case c.ContainerHostname != "":
		return c.ContainerHostname
	case i == 0:
		return "primary"
	}
	return "container-" + strconv.Itoa(i+1)
}

// stopCallsBudget is what stopping an instance may take beyond its grace
// period: the engine calls that send the signals and wait for the exit.
const stopCallsBudget = 60 * time.Second

// stopInstance stops the instance's containers as SageMaker does
// (SIGTERM, then SIGKILL after optml.HostingStopGraceSeconds) and removes
// them once their last lines are written.
func (m *Manager) stopInstance(in *instance) {
	grace := optml.HostingStopGraceSeconds * time.Second
	// The grace period is timed by Stop itself; the context bounds the
	// engine calls around it (SIGTERM, SIGKILL, the wait), which a busy
	// engine can take seconds to answer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), grace+stopCallsBudget)
	defer cancel()
	type stopped struct {
		st  platform.StopResult
		err error
	}
	res := make([]stopped, len(in.eps))
	var wg sync.WaitGroup
	for i, ep := range in.eps {
		if ep != nil {
			wg.Go(func() { res[i].st, res[i].err = ep.Stop(ctx, grace) })
		}
	}
	wg.Wait()
	followed := make(chan struct{})
	go func() { in.following.Wait(); close(followed) }()
	select {
	case <-followed:
	case <-time.After(2 * time.Second):
	}
	for i, ep := range in.eps {
		if ep != nil {
			m.observer.ContainerStopped(in.endpoint, in.variant, ep, res[i].st, res[i].err)
			wg.Go(func() { ep.Remove(ctx) })
		}
	}
	wg.Wait()
}
