package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Labels the platform puts on what it creates, besides the engine's own.
const (
	LabelRole = "dev.sagekit.role"
	LabelHost = "dev.sagekit.host"
)

// TrainingJob is a training job as SageMaker would run it.
type TrainingJob struct {
	// Image is the image reference in the local engine.
	Image string
	// Name is TRAINING_JOB_NAME (default "sagekit-local-<random>").
	Name string
	// Hosts is the instance count (default 1); hosts are algo-1..algo-N.
	Hosts int
	// Layout is what /opt/ml/input holds: hyperparameters and generated
	// channel files. Its Resource is ignored: every host gets its own.
	Layout optml.Layout
	// ChannelDirs maps a channel name to a host directory, bind-mounted
	// read-only at /opt/ml/input/data/<channel>.
	ChannelDirs map[string]string
	// Pipes maps a Pipe-mode channel to its data: each host gets FIFOs
	// /opt/ml/input/data/<channel>_<epoch>, epoch 0, 1, ..., the next made
	// once the previous is written and closed, and the source writes each
	// epoch's data (see PipeSource).
	Pipes map[string]PipeSource
	// CheckpointPath is where each host's checkpoint directory is mounted
	// (default /opt/ml/checkpoints, CheckpointConfig.LocalPath).
	CheckpointPath string
	// Env is the job's Environment.
	Env map[string]string
	// CodeDir, when set, is a host directory bind-mounted (writable) at
	// /opt/ml/code, where SageMaker's script mode puts the user's code.
	CodeDir string
	// Resource, when set, edits each host's resourceconfig.json before it
	// is written (for example to leave out optional keys).
	Resource func(*optml.ResourceConfig)
	// NetworkIsolation runs with no outbound network: no network at all for
	// one host, an internal network (peers only) for several.
	NetworkIsolation bool
	// CPUShares is each host's CPU weight against other containers when
	// the CPUs are busy (0: the engine's default); see ContainerSpec.
	CPUShares int64
	// GPU attaches every GPU of the engine.
	GPU bool
	// ReadOnlyModel mounts /opt/ml/model read-only, which makes a program
	// that saves a model fail: the suite uses it to observe the failure path.
	ReadOnlyModel bool
	// StopAfter, when positive, stops the job as StopTrainingJob does
	// (SIGTERM, then SIGKILL after StopGrace) that long after the program
	// first writes to stdout or stderr, or StopSilent after the start if
	// it has written nothing by then. Counting from the start instead
	// races the program: a SIGTERM that reaches PID 1 before it handles
	// the signal is dropped by the kernel, and on a busy machine the
	// engine's start returns long before the program gets that far.
	StopAfter time.Duration
	// StopSilent bounds the wait for output of StopAfter (default 5 s,
	// never less than StopAfter).
	StopSilent time.Duration
	// StopGrace is the SIGTERM→SIGKILL window (default 120 s).
	StopGrace time.Duration
	// MaxRuntime stops the job like StopAfter, but as a limit (default none).
	MaxRuntime time.Duration
	// Stop, when closed, stops every host as StopTrainingJob does: SIGTERM,
	// then SIGKILL after StopGrace.
	Stop <-chan struct{}
	// PeerDelay starts algo-2..algo-N this long after algo-1, to show
	// whether algo-1 retries resolving its peers.
	PeerDelay time.Duration
	// Dir is the host directory holding each host's /opt/ml (default: a new
	// temporary directory, removed by Training.Remove).
	Dir string
	// WhileRunning, when set, is called once every host has started, with
	// the running containers (for example to exec a probe).
	WhileRunning func(ctx context.Context, hosts []*Container)
}

// HostResult is what one host of a training job left behind.
type HostResult struct {
	Host string
	// Paths is this host's /opt/ml on the engine host.
	Paths optml.Paths
	// StartErr is set when the container could not be created or started.
	StartErr error
	ExitCode int
	// Failure is the first 1024 bytes of /opt/ml/output/failure ("" if none).
	Failure string
	// HasFailureFile is true when the failure file exists (even if empty).
	HasFailureFile bool
	Logs           []byte
	Duration       time.Duration
	// Stop is set when the job was stopped with SIGTERM.
	Stop *StopResult
}

// Training is a finished training job.
type Training struct {
	Job   TrainingJob
	Dir   string
	Hosts []HostResult
	owned bool
}

// Succeeded reports whether every host exited 0.
func (t *Training) Succeeded() bool {
	for _, h := range t.Hosts {
		if h.StartErr != nil || h.ExitCode != 0 {
			return false
		}
	}
	return len(t.Hosts) > 0
}

// Remove deletes the job's directory when Train created it.
func (t *Training) Remove() error {
	if !t.owned {
		return nil
	}
	return os.RemoveAll(t.Dir)
}

// Train runs job to completion: it lays out /opt/ml for every host, starts
// `IMAGE train` on each (CMD replaced by "train"), optionally stops it with
// SIGTERM/SIGKILL, and collects exit codes, failure files and logs. The
// containers and the network are removed before Train returns. An error
// means the job could not be run at all; a container that fails to start
// is reported in its HostResult.
func (e *Engine) Train(ctx context.Context, job TrainingJob) (*Training, error) {
	if job.Hosts < 1 {
		job.Hosts = 1
	}
	if job.Name == "" {
		job.Name = "sagekit-local-" + randomHex(4)
	}
	if job.StopGrace <= 0 {
		job.StopGrace = optml.TrainingStopGraceSeconds * time.Second
	}
	if job.StopSilent <= 0 {
		job.StopSilent = DefaultStopSilent
	}
	t := &Training{Job: job, Dir: job.Dir}
	if t.Dir == "" {
		d, err := os.MkdirTemp("", "sagekit-train-")
		if err != nil {
			return nil, fmt.Errorf("creating the job directory: %w", err)
		}
		t.Dir, t.owned = d, true
	}
	hosts := make([]string, job.Hosts)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("algo-%d", i+1)
	}
	if job.Hosts > 1 {
		nw, subnet, err := e.privateNetwork(ctx, job.NetworkIsolation)
		if err != nil {
			return t, err
		}
		defer e.b.RemoveNetwork(context.WithoutCancel(ctx), nw)
		t.Hosts = make([]HostResult, job.Hosts)
		for i, h := range hosts {
			t.Hosts[i] = HostResult{Host: h}
		}
		return t, e.trainHosts(ctx, t, hosts, nw, subnet)
	}
	t.Hosts = []HostResult{{Host: hosts[0]}}
	return t, e.trainHosts(ctx, t, hosts, "", netip.Prefix{})
}

// privateNetwork creates the bridge network of a multi-host job on a /24
// of its own, so that each host gets a fixed address (internal: no way out).
func (e *Engine) privateNetwork(ctx context.Context, internal bool) (string, netip.Prefix, error) {
	var last error
	for range 8 {
		b := make([]byte, 1)
		rand.Read(b)
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, b[0], 0}), 24)
		nw, err := e.b.CreateNetwork(ctx, NetworkSpec{Labels: e.labels, Subnet: subnet, Internal: internal})
		if err == nil {
			return nw, subnet, nil
		}
		last = err
		if ctx.Err() != nil || !strings.Contains(strings.ToLower(err.Error()), "overlap") {
			break
		}
	}
	return "", netip.Prefix{}, fmt.Errorf("creating the training network: %w", last)
}

// hostAddr is the fixed address of host i (0-based) in subnet.
func hostAddr(subnet netip.Prefix, i int) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = byte(10 + i)
	return netip.AddrFrom4(a)
}

func (e *Engine) trainHosts(ctx context.Context, t *Training, hosts []string, netName string, subnet netip.Prefix) error {
	job := t.Job
	env := map[string]string{
		optml.EnvTrainingJobName: job.Name,
		optml.EnvTrainingJobARN:  "arn:aws:sagemaker:local:000000000000:training-job/" + job.Name,
	}
	maps.Copy(env, job.Env)
	ctrs := make([]*Container, len(hosts))
	var wg sync.WaitGroup
	defer func() {
		for _, c := range ctrs {
			if c != nil {
				c.Remove(ctx)
			}
		}
	}()
	for i, h := range hosts {
		p := optml.At(filepath.Join(t.Dir, h))
		t.Hosts[i].Paths = p
		l := job.Layout
		rc := optml.SingleHost(h, hosts...)
		if job.Resource != nil {
			job.Resource(&rc)
		}
		l.Resource = &rc
		// Mounted channels are listed in inputdataconfig.json like the others.
		l.ChannelConfig = maps.Clone(l.ChannelConfig)
		for ch := range job.ChannelDirs {
			if _, ok := l.ChannelConfig[ch]; !ok {
				if l.ChannelConfig == nil {
					l.ChannelConfig = map[string]optml.Channel{}
				}
				l.ChannelConfig[ch] = optml.Channel{TrainingInputMode: optml.InputModeFile, S3DistributionType: "FullyReplicated", RecordWrapperType: "None"}
			}
		}
		if err := p.Write(l); err != nil {
			return fmt.Errorf("laying out /opt/ml for %s: %w", h, err)
		}
		for _, d := range []string{p.Model(), p.Output(), p.OutputData(), p.Checkpoints()} {
			// World-writable, so an image that runs as another user fails
			// only the rule about running as root.
			if err := os.Chmod(d, 0o777); err != nil {
				return fmt.Errorf("laying out /opt/ml for %s: %w", h, err)
			}
		}
	}
	// Mounts every host shares: code and channels.
	var shared []Mount
	if job.CodeDir != "" {
		abs, err := filepath.Abs(job.CodeDir)
		if err != nil {
			return fmt.Errorf("code directory: %w", err)
		}
		shared = append(shared, Mount{Source: abs, Target: inContainer.Code()})
	}
	for _, ch := range slices.Sorted(maps.Keys(job.ChannelDirs)) {
		abs, err := filepath.Abs(job.ChannelDirs[ch])
		if err != nil {
			return fmt.Errorf("channel %q: %w", ch, err)
		}
		shared = append(shared, Mount{Source: abs, Target: inContainer.Channel(ch), ReadOnly: true})
	}
	checkpoints := inContainer.Checkpoints()
	if job.CheckpointPath != "" {
		checkpoints = job.CheckpointPath
	}
	feeding, stopFeeding := context.WithCancel(ctx)
	defer stopFeeding()
	for i := range hosts {
		for ch, src := range job.Pipes {
			go e.feedPipe(feeding, t.Hosts[i].Paths.Data(), ch, src)
		}
	}
	// Hosts start at once (each start is a few hundred ms of engine
	// work), unless PeerDelay holds algo-2..N back.
	startErrs := make([]error, len(hosts))
	start := func(i int, h string) {
		p := t.Hosts[i].Paths
		spec := ContainerSpec{
			Image:     job.Image,
			Cmd:       []string{optml.CommandTrain},
			Env:       env,
			Labels:    map[string]string{LabelRole: "train", LabelHost: h},
			Hostname:  h,
			GPU:       job.GPU,
			CPUShares: job.CPUShares,
			Mounts: append([]Mount{
				{Source: p.Input(), Target: inContainer.Input()},
				{Source: p.Model(), Target: inContainer.Model(), ReadOnly: job.ReadOnlyModel},
				{Source: p.Output(), Target: inContainer.Output()},
				{Source: p.Checkpoints(), Target: checkpoints},
			}, shared...),
			NoNetwork: job.NetworkIsolation && netName == "",
		}
		if netName != "" {
			// Every host resolves every peer by name through the network's
			// DNS, and also through /etc/hosts: Docker drops a container
			// from DNS once it exits, while on SageMaker a host that has
			// finished stays resolvable for the others.
			for j, peer := range hosts {
				spec.ExtraHosts = append(spec.ExtraHosts, peer+":"+hostAddr(subnet, j).String())
			}
			spec.Network = &Attachment{Network: netName, Aliases: []string{h}, IP: hostAddr(subnet, i)}
		}
		c, err := e.run(ctx, spec)
		if err != nil {
			startErrs[i] = err
			t.Hosts[i].StartErr = err
			return
		}
		ctrs[i] = c
	}
	var starting sync.WaitGroup
	for i, h := range hosts {
		if i == 1 && job.PeerDelay > 0 {
			starting.Wait()
			select {
			case <-time.After(job.PeerDelay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		starting.Go(func() { start(i, h) })
	}
	starting.Wait()
	for _, err := range startErrs {
		if err != nil && (errors.Is(err, ErrNoGPURuntime) || ctx.Err() != nil) {
			return err
		}
	}
	if job.WhileRunning != nil {
		var running []*Container
		for _, c := range ctrs {
			if c != nil {
				running = append(running, c)
			}
		}
		job.WhileRunning(ctx, running)
	}
	for i, c := range ctrs {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.finishHost(ctx, job, c, &t.Hosts[i])
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (e *Engine) finishHost(ctx context.Context, job TrainingJob, c *Container, r *HostResult) {
	var limit <-chan time.Time
	if job.MaxRuntime > 0 {
		tm := time.NewTimer(max(time.Until(c.Started.Add(job.MaxRuntime)), 0))
		defer tm.Stop()
		limit = tm.C
	}
	var stopNow <-chan struct{}
	if job.StopAfter > 0 {
		watching, stopWatching := context.WithCancel(ctx)
		defer stopWatching()
		stopNow = c.afterOutput(watching, job.StopAfter, max(job.StopSilent, job.StopAfter))
	}
	select {
	case <-c.Done():
		_, r.ExitCode = c.Exited()
	case <-limit:
		e.stopHost(ctx, job, c, r)
	case <-stopNow:
		e.stopHost(ctx, job, c, r)
	case <-job.Stop:
		e.stopHost(ctx, job, c, r)
	case <-ctx.Done():
		return
	}
	r.Duration = c.Ran()
	r.Logs, _ = c.Logs(context.WithoutCancel(ctx))
	if b, err := os.ReadFile(r.Paths.Failure()); err == nil {
		r.HasFailureFile = true
		if len(b) > optml.FailureReasonMax {
			b = b[:optml.FailureReasonMax]
		}
		r.Failure = string(b)
	}
}

// stopHost sends SIGTERM, then SIGKILL after the grace period, and
// records how the host ended.
func (e *Engine) stopHost(ctx context.Context, job TrainingJob, c *Container, r *HostResult) {
	st, err := c.Stop(ctx, job.StopGrace)
	if err != nil {
		r.StartErr = err
	}
	if !st.AlreadyExited {
		r.Stop = &st
	}
	r.ExitCode = st.ExitCode
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// inContainer is the contract as the container sees it: SageMaker always
// mounts it at /opt/ml, whatever SAGEMAKER_BASE_DIR says on the host.
var inContainer = optml.At(optml.DefaultRoot)
