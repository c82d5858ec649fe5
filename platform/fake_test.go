package platform_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/platformtest"
	"github.com/sagekit/sagekit/sdk/optml"
)

// These tests run the platform's logic on the in-memory engine of package
// platformtest: no Docker, so they run under -short.

const fakeLabel = "dev.sagekit.fake"

func fakeEngine(t *testing.T, b *platformtest.Backend) *platform.Engine {
	t.Helper()
	e, err := platform.New(t.Context(), platform.WithBackend(b), platform.WithHost("127.0.0.1"),
		platform.WithLabels(map[string]string{fakeLabel: t.Name()}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		left, err := e.Leftovers(context.Background(), fakeLabel, t.Name())
		if err != nil || len(left) > 0 {
			t.Errorf("Leftovers() = %v, %v, want none", left, err)
		}
	})
	return e
}

func TestFakeTrainSingleHost(t *testing.T) {
	b := &platformtest.Backend{Run: func(ctx context.Context, p *platformtest.Process) int {
		hp, err := os.ReadFile(p.HostPath("/opt/ml/input/config/hyperparameters.json"))
		if err != nil {
			fmt.Fprintln(p.Stderr(), err)
			return 2
		}
		fmt.Fprintf(p.Stdout(), "hyperparameters %s\n", hp)
		fmt.Fprintf(p.Stdout(), "job %s\n", p.Env(optml.EnvTrainingJobName))
		if err := os.WriteFile(p.HostPath("/opt/ml/model/model.txt"), []byte("weights"), 0o644); err != nil {
			fmt.Fprintln(p.Stderr(), err)
			return 3
		}
		return 0
	}}
	e := fakeEngine(t, b)
	tr, err := e.Train(t.Context(), platform.TrainingJob{
		Image:  "img",
		Name:   "job-1",
		Env:    map[string]string{"A": "1"},
		Layout: optml.Layout{Hyperparameters: optml.Hyperparameters{"epochs": "3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	if !tr.Succeeded() {
		t.Fatalf("Succeeded() = false, hosts %+v", tr.Hosts)
	}
	h := tr.Hosts[0]
	if got, err := os.ReadFile(filepath.Join(h.Paths.Model(), "model.txt")); err != nil || string(got) != "weights" {
		t.Errorf("model.txt = %q, %v, want %q", got, err, "weights")
	}
	for _, want := range []string{`hyperparameters {"epochs":"3"}`, "job job-1"} {
		if !bytes.Contains(h.Logs, []byte(want)) {
			t.Errorf("logs %q lack %q", h.Logs, want)
		}
	}
	cs := b.Containers()
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	c := cs[0]
	if !c.Removed {
		t.Error("the container was not removed")
	}
	s := c.Spec
	if got, want := s.Cmd, []string{"train"}; !slices.Equal(got, want) {
		t.Errorf("Cmd = %q, want %q", got, want)
	}
	if s.Hostname != "algo-1" || s.Labels[platform.LabelRole] != "train" || s.Labels[platform.LabelHost] != "algo-1" || s.Labels[fakeLabel] != t.Name() {
		t.Errorf("hostname %q, labels %v: want algo-1 and the role, host and engine labels", s.Hostname, s.Labels)
	}
	if s.Env["A"] != "1" || s.Env[optml.EnvTrainingJobARN] != "arn:aws:sagemaker:local:000000000000:training-job/job-1" {
		t.Errorf("Env = %v, want the job's variables and the job ARN", s.Env)
	}
	if s.NoNetwork || s.Network != nil || s.GPU {
		t.Errorf("NoNetwork %v, Network %v, GPU %v: want the default bridge, no GPU", s.NoNetwork, s.Network, s.GPU)
	}
	targets := map[string]bool{}
	for _, m := range s.Mounts {
		targets[m.Target] = m.ReadOnly
	}
	want := map[string]bool{"/opt/ml/input": false, "/opt/ml/model": false, "/opt/ml/output": false, "/opt/ml/checkpoints": false}
	if d := cmp.Diff(want, targets); d != "" {
		t.Errorf("mounts (target: read-only) (-want +got):\n%s", d)
	}
}

func TestFakeTrainFailureFile(t *testing.T) {
	long := strings.Repeat("x", optml.FailureReasonMax+100)
	b := &platformtest.Backend{Run: func(ctx context.Context, p *platformtest.Process) int {
		os.WriteFile(p.HostPath("/opt/ml/output/failure"), []byte(long), 0o644)
		return 1
	}}
	e := fakeEngine(t, b)
	tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", ReadOnlyModel: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	h := tr.Hosts[0]
	if tr.Succeeded() || h.ExitCode != 1 || !h.HasFailureFile || len(h.Failure) != optml.FailureReasonMax {
		t.Errorf("Succeeded %v, exit %d, failure file %v of %d bytes: want a failure of exit 1 truncated to %d bytes",
			tr.Succeeded(), h.ExitCode, h.HasFailureFile, len(h.Failure), optml.FailureReasonMax)
	}
	if got := tr.FailureReason(); !strings.HasPrefix(got, "algo-1: xxx") {
		t.Errorf("FailureReason() = %.40q..., want the failure file", got)
	}
	for _, m := range b.Containers()[0].Spec.Mounts {
		if m.Target == "/opt/ml/model" && !m.ReadOnly {
			t.Error("/opt/ml/model is writable with ReadOnlyModel")
		}
	}
}

func TestFakeTrainMultiHost(t *testing.T) {
	for _, isolated := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolated=%v", isolated), func(t *testing.T) {
			var mu sync.Mutex
			var nets []platform.NetworkSpec
			b := &platformtest.Backend{}
			b.Run = func(ctx context.Context, p *platformtest.Process) int {
				mu.Lock()
				defer mu.Unlock()
				for _, n := range b.Networks() {
					nets = append(nets, n)
				}
				return 0
			}
			e := fakeEngine(t, b)
			tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", Hosts: 3, NetworkIsolation: isolated})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Remove()
			if !tr.Succeeded() || len(tr.Hosts) != 3 {
				t.Fatalf("Succeeded() = %v with %d hosts, want true with 3", tr.Succeeded(), len(tr.Hosts))
			}
			if len(nets) == 0 || nets[0].Internal != isolated || nets[0].Labels[fakeLabel] != t.Name() {
				t.Fatalf("networks seen by the containers: %+v, want one labelled network, internal=%v", nets, isolated)
			}
			subnet := nets[0].Subnet
			if subnet.Bits() != 24 || !netip.MustParsePrefix("10.213.0.0/16").Overlaps(subnet) {
				t.Errorf("subnet %s, want a /24 in 10.213.0.0/16", subnet)
			}
			if left := b.Networks(); len(left) != 0 {
				t.Errorf("networks left after Train: %v", left)
			}
			var wantHosts []string
			for i := range 3 {
				wantHosts = append(wantHosts, fmt.Sprintf("algo-%d:%s", i+1, hostIP(subnet, 10+i)))
			}
			// Hosts may start in any order: find each by its host name.
			byHost := map[string]platformtest.Container{}
			for _, c := range b.Containers() {
				byHost[c.Spec.Hostname] = c
			}
			for i := range 3 {
				h := fmt.Sprintf("algo-%d", i+1)
				c, ok := byHost[h]
				if !ok {
					t.Fatalf("no container for %s", h)
				}
				a := c.Spec.Network
				if a == nil || !slices.Equal(a.Aliases, []string{h}) || a.IP != hostIP(subnet, 10+i) {
					t.Errorf("%s: attachment %+v, want alias %s at %s", h, a, h, hostIP(subnet, 10+i))
				}
				if !slices.Equal(c.Spec.ExtraHosts, wantHosts) {
					t.Errorf("%s: ExtraHosts = %q, want %q", h, c.Spec.ExtraHosts, wantHosts)
				}
				if c.Spec.NoNetwork {
					t.Errorf("%s: no network, want the job's network", h)
				}
				rc, err := optml.At(filepath.Join(tr.Dir, h)).LoadResourceConfig()
				if err != nil || rc.CurrentHost != h || len(rc.Hosts) != 3 {
					t.Errorf("%s: resourceconfig.json %+v, %v", h, rc, err)
				}
			}
		})
	}
}

func hostIP(subnet netip.Prefix, last int) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = byte(last)
	return netip.AddrFrom4(a)
}

func TestFakeTrainIsolatedSingleHostHasNoNetwork(t *testing.T) {
	b := &platformtest.Backend{}
	e := fakeEngine(t, b)
	tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", NetworkIsolation: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	if s := b.Containers()[0].Spec; !s.NoNetwork || s.Network != nil {
		t.Errorf("NoNetwork %v, Network %v: want no network at all", s.NoNetwork, s.Network)
	}
}

func TestFakeTrainStop(t *testing.T) {
	tests := []struct {
		name string
		// obey: the process exits 0 on SIGTERM.
		obey       bool
		wantKilled bool
		wantCode   int
		wantSigs   []string
	}{
		{name: "exits on SIGTERM", obey: true, wantCode: 0, wantSigs: []string{"SIGTERM"}},
		{name: "ignores SIGTERM, killed after the grace period", wantKilled: true, wantCode: 137, wantSigs: []string{"SIGTERM", "SIGKILL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &platformtest.Backend{Run: func(ctx context.Context, p *platformtest.Process) int {
				fmt.Fprintln(p.Stdout(), "training")
				for {
					select {
					case <-p.Signals():
						if tt.obey {
							return 0
						}
					case <-ctx.Done():
						return 1
					}
				}
			}}
			e := fakeEngine(t, b)
			tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", StopAfter: 20 * time.Millisecond, StopGrace: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Remove()
			h := tr.Hosts[0]
			if h.Stop == nil {
				t.Fatal("Stop = nil, want the stop recorded")
			}
			if h.Stop.Killed != tt.wantKilled || h.ExitCode != tt.wantCode {
				t.Errorf("Killed %v, exit %d, want %v, %d", h.Stop.Killed, h.ExitCode, tt.wantKilled, tt.wantCode)
			}
			if tt.wantKilled && h.Stop.Elapsed < 200*time.Millisecond {
				t.Errorf("killed after %s, before the grace period of 200ms", h.Stop.Elapsed)
			}
			if got := b.Containers()[0].Signals; !slices.Equal(got, tt.wantSigs) {
				t.Errorf("signals %q, want %q", got, tt.wantSigs)
			}
		})
	}
}

func TestFakeTrainWhileRunningExec(t *testing.T) {
	release := make(chan struct{})
	b := &platformtest.Backend{
		Run: func(ctx context.Context, p *platformtest.Process) int {
			<-release
			return 0
		},
		OnExec: func(ctx context.Context, p *platformtest.Process, cmd []string) (int, []byte) {
			return 7, []byte(p.Spec.Hostname + ":" + strings.Join(cmd, " "))
		},
	}
	e := fakeEngine(t, b)
	var code int
	var out []byte
	tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", WhileRunning: func(ctx context.Context, hosts []*platform.Container) {
		defer close(release)
		var err error
		code, out, err = hosts[0].Exec(ctx, "id", "-u")
		if err != nil {
			t.Error(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	if code != 7 || string(out) != "algo-1:id -u" {
		t.Errorf("Exec = %d, %q, want 7, %q", code, out, "algo-1:id -u")
	}
}

func TestFakeTrainGPUWithoutRuntime(t *testing.T) {
	e := fakeEngine(t, &platformtest.Backend{})
	tr, err := e.Train(t.Context(), platform.TrainingJob{Image: "img", GPU: true})
	if tr != nil {
		defer tr.Remove()
	}
	if !errors.Is(err, platform.ErrNoGPURuntime) {
		t.Errorf("Train(GPU) error = %v, want ErrNoGPURuntime", err)
	}
}

// pingServer serves 200 on /ping once ready is closed (nil: at once).
func pingServer(ready chan struct{}) func(ctx context.Context, p *platformtest.Process) int {
	return func(ctx context.Context, p *platformtest.Process) int {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
			if ready != nil {
				select {
				case <-ready:
				default:
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
			}
		})
		mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Write(bytes.ToUpper(b))
		})
		if err := p.Serve(p.Spec.Ports[0], mux); err != nil {
			fmt.Fprintln(p.Stderr(), err)
			return 1
		}
		<-ctx.Done()
		return 0
	}
}

func TestFakeServe(t *testing.T) {
	ready := make(chan struct{})
	b := &platformtest.Backend{Run: pingServer(ready)}
	e := fakeEngine(t, b)
	model := t.TempDir()
	ep, err := e.Serve(t.Context(), platform.EndpointSpec{Image: "img", ModelDir: model, BindToPort: 9090, Env: map[string]string{"B": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Remove(context.Background())
	time.AfterFunc(300*time.Millisecond, func() { close(ready) })
	h := ep.WaitHealthy(t.Context(), 10*time.Second, time.Second)
	if !h.Healthy || h.Pings < 2 || h.LastStatus != http.StatusOK {
		t.Errorf("WaitHealthy() = %+v, want healthy after several pings", h)
	}
	s := b.Containers()[0].Spec
	if !slices.Equal(s.Cmd, []string{"serve"}) || !slices.Equal(s.Ports, []string{"9090/tcp"}) || s.PublishIP != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Cmd %q, Ports %q on %s: want serve, 9090/tcp on 127.0.0.1", s.Cmd, s.Ports, s.PublishIP)
	}
	if s.Env[optml.EnvBindToPort] != "9090" || s.Env[optml.EnvSafePortRange] != "9091-9189" || s.Env["B"] != "2" {
		t.Errorf("Env = %v, want the port variables and the model's", s.Env)
	}
	if len(s.Mounts) != 1 || s.Mounts[0] != (platform.Mount{Source: model, Target: "/opt/ml/model", ReadOnly: true}) {
		t.Errorf("Mounts = %+v, want the model read-only", s.Mounts)
	}
	if err := ep.Remove(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !b.Containers()[0].Removed {
		t.Error("Remove left the container")
	}
}

func TestFakeServeExitsEarly(t *testing.T) {
	b := &platformtest.Backend{Run: func(ctx context.Context, p *platformtest.Process) int {
		fmt.Fprintln(p.Stderr(), "no model")
		return 3
	}}
	e := fakeEngine(t, b)
	ep, err := e.Serve(t.Context(), platform.EndpointSpec{Image: "img"})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Remove(context.Background())
	h := ep.WaitHealthy(t.Context(), 10*time.Second, time.Second)
	if h.Healthy || !h.Exited || h.ExitCode != 3 {
		t.Errorf("WaitHealthy() = %+v, want exited with code 3", h)
	}
	if logs, err := ep.Logs(t.Context()); err != nil || string(logs) != "no model\n" {
		t.Errorf("Logs() = %q, %v, want %q", logs, err, "no model\n")
	}
}

func TestFakeTransform(t *testing.T) {
	b := &platformtest.Backend{Run: pingServer(nil)}
	e := fakeEngine(t, b)
	in, out := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"a.csv": "a\nb\n", "sub/c.csv": "c\n"})
	res, err := e.Transform(t.Context(), platform.TransformJob{
		Image: "img", Model: t.TempDir(), Input: in, Output: out,
		SplitType: platform.SplitLine, BatchStrategy: optml.SingleRecord, AssembleWith: platform.AssembleLine,
		MaxConcurrentTransforms: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readOutputs(t, out)
	want := map[string]string{"a.csv.out": "A\n\nB\n\n", "sub/c.csv.out": "C\n\n"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
	if res.Files[0].Requests != 2 || res.Params.MaxConcurrentTransforms != 2 {
		t.Errorf("a.csv in %d requests with params %+v, want 2 requests and 2 concurrent", res.Files[0].Requests, res.Params)
	}
	c := b.Containers()[0]
	if c.Spec.Env[optml.EnvBatch] != "true" || c.Spec.Labels[platform.LabelRole] != "transform" || !c.Removed {
		t.Errorf("env %v, labels %v, removed %v: want a batch container labelled transform, removed", c.Spec.Env, c.Spec.Labels, c.Removed)
	}
}

func TestFakeSweep(t *testing.T) {
	b := &platformtest.Backend{Run: pingServer(nil)}
	e, err := platform.New(t.Context(), platform.WithBackend(b), platform.WithLabels(map[string]string{fakeLabel: "sweep"}))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := e.Serve(t.Context(), platform.EndpointSpec{Image: "img"}); err != nil {
			t.Fatal(err)
		}
	}
	left, err := e.Leftovers(t.Context(), fakeLabel, "sweep")
	if err != nil || len(left) != 2 || !strings.HasPrefix(left[0], "container ") {
		t.Fatalf("Leftovers() = %q, %v, want two containers", left, err)
	}
	n, err := e.Sweep(t.Context(), fakeLabel, "sweep")
	if err != nil || n != 2 {
		t.Errorf("Sweep() = %d, %v, want 2", n, err)
	}
	if left, _ := e.Leftovers(t.Context(), fakeLabel, "sweep"); len(left) != 0 {
		t.Errorf("Leftovers() after Sweep = %q", left)
	}
}
