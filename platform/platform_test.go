package platform_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

const testLabel = "dev.sagekit.test"

// goodImage builds the conformance suite's good fixture image.
func goodImage(t *testing.T, e *platform.Engine) string {
	t.Helper()
	return fixtureImage(t, e, fixtures.Good)
}

// fixtureImage builds the fixture image that breaks rule brk, removed when
// the test ends.
func fixtureImage(t *testing.T, e *platform.Engine, brk string) string {
	t.Helper()
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	ref, err := fixtures.Build(t.Context(), e.Client(), fixtures.Fixture{Break: brk}, bin, "sagekit-platform-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Client().ImageRemove(context.Background(), ref, client.ImageRemoveOptions{}) })
	return ref
}

func newEngine(t *testing.T) (*platform.Engine, string) {
	t.Helper()
	dc := testenv.Docker(t)
	// Unique to this process too: another process running the same test
	// on the same engine (a second checkout, CI) would otherwise see this
	// test's containers as its own leftovers and remove them mid-run.
	run := strings.NewReplacer("/", "-").Replace(t.Name()) + "-" + randomSuffix()
	e, err := platform.New(t.Context(), platform.WithClient(dc), platform.WithLabels(map[string]string{testLabel: run}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		left, err := e.Leftovers(ctx, testLabel, run)
		if err != nil {
			t.Error(err)
		}
		if len(left) > 0 {
			t.Errorf("left behind: %v", left)
			e.Sweep(ctx, testLabel, run)
		}
	})
	return e, run
}

func TestTrainAndServe(t *testing.T) {
	e, _ := newEngine(t)
	img := goodImage(t, e)
	ctx := t.Context()
	tr, err := e.Train(ctx, platform.TrainingJob{
		Image:  img,
		Layout: optml.Layout{Hyperparameters: optml.Hyperparameters{"epochs": "3"}, Channels: map[string]map[string][]byte{"train": {"a.csv": []byte("1,2\n3,4\n")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	h := tr.Hosts[0]
	if h.StartErr != nil || h.ExitCode != 0 {
		t.Fatalf("train: start error %v, exit %d, logs:\n%s", h.StartErr, h.ExitCode, h.Logs)
	}
	b, err := os.ReadFile(h.Paths.Model() + "/model.json")
	if err != nil {
		t.Fatalf("model: %v\nlogs:\n%s", err, h.Logs)
	}
	if want := `"epochs":3`; !strings.Contains(string(b), want) {
		t.Errorf("model.json = %s, want it to contain %s", b, want)
	}

	ep, err := e.Serve(ctx, platform.EndpointSpec{Image: img, ModelDir: h.Paths.Model()})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Remove(ctx)
	health := ep.WaitHealthy(ctx, 20*time.Second, 2*time.Second)
	if !health.Healthy {
		logs, _ := ep.Logs(ctx)
		t.Fatalf("not healthy: %+v\n%s", health, logs)
	}
	resp, err := http.Post(ep.URL+"/invocations", "text/csv", strings.NewReader("1,2\n3,4\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "1\n1\n" {
		t.Errorf("invocations = %d %q, want 200 \"1\\n1\\n\"", resp.StatusCode, body)
	}
	st, err := ep.Stop(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.Killed || st.AlreadyExited || st.ExitCode != 0 {
		t.Errorf("Stop = %+v, want a clean exit after SIGTERM", st)
	}
}

func TestMultiHostResolvesPeers(t *testing.T) {
	e, _ := newEngine(t)
	img := goodImage(t, e)
	var placed []string
	tr, err := e.Train(t.Context(), platform.TrainingJob{Image: img, Hosts: 2, PeerDelay: time.Second,
		WhileRunning: func(ctx context.Context, cs []*platform.Container) {
			placed = hostAddresses(ctx, t, e, cs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	for _, p := range placed {
		t.Error(p)
	}
	for _, h := range tr.Hosts {
		if h.StartErr != nil || h.ExitCode != 0 {
			t.Fatalf("%s: start error %v, exit %d, logs:\n%s", h.Host, h.StartErr, h.ExitCode, h.Logs)
		}
		rc, err := h.Paths.LoadResourceConfig()
		if err != nil {
			t.Fatal(err)
		}
		if rc.CurrentHost != h.Host || len(rc.Hosts) != 2 {
			t.Errorf("%s: resourceconfig = %+v", h.Host, rc)
		}
		peer := map[string]string{"algo-1": "algo-2", "algo-2": "algo-1"}[h.Host]
		if !strings.Contains(string(h.Logs), "resolved peer "+peer) {
			t.Errorf("%s did not log resolving %s:\n%s", h.Host, peer, h.Logs)
		}
	}
}

// hostAddresses checks that every host of a job sits, on a network of
// the job, at the address the /etc/hosts entries of its containers give
// its name, and returns what is wrong.
func hostAddresses(ctx context.Context, t *testing.T, e *platform.Engine, cs []*platform.Container) []string {
	var wrong []string
	want := map[string]string{} // host -> address in /etc/hosts
	got := map[string][]string{}
	for _, c := range cs {
		ins, err := e.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Errorf("inspecting %s: %v", c.ID, err)
			continue
		}
		for _, eh := range ins.Container.HostConfig.ExtraHosts {
			name, addr, _ := strings.Cut(eh, ":")
			want[name] = addr
		}
		host := ins.Container.Config.Hostname
		got[host] = []string{}
		for nw, ep := range ins.Container.NetworkSettings.Networks {
			got[host] = append(got[host], nw+"="+ep.IPAddress.String())
			if ep.IPAddress.String() == want[host] {
				got[host] = nil
				break
			}
		}
	}
	for host, addrs := range got {
		if addrs != nil {
			wrong = append(wrong, fmt.Sprintf("%s is at %v, not at %s where its peers look for it", host, addrs, want[host]))
		}
	}
	return wrong
}

// TestStopAfterGraceKills stops a program that ignores SIGTERM. StopAfter
// counts from its first output, which comes once its handler is installed:
// a SIGTERM before would end it at once (exit 2 from the Go runtime). Its
// training lasts a minute, so only the stop ends it, however late the
// signal comes.
func TestStopAfterGraceKills(t *testing.T) {
	e, _ := newEngine(t)
	img := fixtureImage(t, e, "C-TR-08")
	tr, err := e.Train(t.Context(), platform.TrainingJob{
		Image:     img,
		Layout:    optml.Layout{Hyperparameters: optml.Hyperparameters{"seconds": "60"}},
		StopAfter: 100 * time.Millisecond,
		StopGrace: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	h := tr.Hosts[0]
	if h.Stop == nil || !h.Stop.Killed || h.ExitCode != 137 {
		t.Errorf("stop = %+v, exit %d; want SIGKILL after the grace period (137)\n%s", h.Stop, h.ExitCode, h.Logs)
	}
	if !strings.Contains(string(h.Logs), "SIGTERM: saving a partial model") {
		t.Errorf("the program did not log receiving SIGTERM before SIGKILL:\n%s", h.Logs)
	}
}

func TestNetworkIsolation(t *testing.T) {
	e, _ := newEngine(t)
	img := fixtureImage(t, e, "C-TR-12")
	for _, iso := range []bool{false, true} {
		tr, err := e.Train(t.Context(), platform.TrainingJob{Image: img, NetworkIsolation: iso})
		if err != nil {
			t.Fatal(err)
		}
		tr.Remove()
		if got, want := tr.Hosts[0].ExitCode != 0, iso; got != want {
			t.Errorf("isolation %v: failed = %v, want %v (a program needing the network fails only when isolated)\n%s", iso, got, want, tr.Hosts[0].Logs)
		}
	}
}

func TestChannelDirsAreListed(t *testing.T) {
	e, _ := newEngine(t)
	img := goodImage(t, e)
	data := t.TempDir()
	if err := os.WriteFile(data+"/a.csv", []byte("1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := e.Train(t.Context(), platform.TrainingJob{Image: img, ChannelDirs: map[string]string{"training": data}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Remove()
	h := tr.Hosts[0]
	idc, err := h.Paths.LoadInputDataConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idc["training"]; !ok {
		t.Errorf("inputdataconfig.json = %v, want channel training", idc)
	}
	b, err := os.ReadFile(h.Paths.Model() + "/model.json")
	if err != nil || !strings.Contains(string(b), `"rows":3`) {
		t.Errorf("model.json = %s (%v), want the 3 rows of the mounted channel read", b, err)
	}
}
