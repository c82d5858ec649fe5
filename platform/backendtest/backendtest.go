// Package backendtest is the contract every platform.Backend keeps, as a
// test to run against an implementation: create, start and wait for the
// exit code, logs split into stdout and stderr, exec, signals, ports
// published on the publish address, bridge networks with fixed addresses
// and aliases by which two containers reach each other, removal, and
// listing by label.
//
// The containers run the conformance suite's fixture program
// (conformance/fixtures, its good image): `train` reads /opt/ml, trains
// for the hyperparameter "seconds", meets its peers on port 7777 and
// writes model.json; `serve` answers /ping on port 8080 and exits 0 on
// SIGTERM; any other command exits 2 with a message on stderr. A backend
// that runs no images (platformtest's) plays that program instead.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/daemon"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Label is the key of the label the contract puts on everything it
// creates; its value is unique to each run.
const Label = "dev.sagekit.backendtest"

// Options describe the backend under test.
type Options struct {
	// Image runs the fixture program as its entrypoint (FixtureImage).
	Image string
	// PublishIP is the address ports are published on (default
	// 127.0.0.1).
	PublishIP netip.Addr
	// GPUs says whether the engine has a GPU runtime: without one, a
	// container asking for GPUs must fail to start with
	// platform.ErrNoGPURuntime.
	GPUs bool
}

// FixtureImage loads the conformance suite's good fixture image into the
// engine behind dc and returns its reference. The image is shared by the
// tests of a package; it is small and stays.
func FixtureImage(t *testing.T, dc daemon.Client) string {
	t.Helper()
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	ref, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{Break: fixtures.Good}, bin, "sagekit-backendtest")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// Run runs the contract against the backends newBackend returns (one per
// subtest).
func Run(t *testing.T, newBackend func(t *testing.T) platform.Backend, o Options) {
	if !o.PublishIP.IsValid() {
		o.PublishIP = netip.MustParseAddr("127.0.0.1")
	}
	for _, tc := range []struct {
		name string
		f    func(*testing.T, *harness)
	}{
		{"ExitCodeAndLogs", testExitCodeAndLogs},
		{"Exec", testExec},
		{"Signals", testSignals},
		{"Ports", testPorts},
		{"Network", testNetwork},
		{"NoNetwork", testNoNetwork},
		{"RemoveAndList", testRemoveAndList},
		{"GPU", testGPU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{b: newBackend(t), o: o, run: fmt.Sprintf("%s-%d-%x", strings.ReplaceAll(t.Name(), "/", "-"), os.Getpid(), rand.Uint32())}
			t.Cleanup(func() { h.sweep(t) })
			tc.f(t, h)
		})
	}
}

type harness struct {
	b   platform.Backend
	o   Options
	run string
}

func (h *harness) labels() map[string]string { return map[string]string{Label: h.run} }

// sweep removes what the check created: everything carrying its label.
func (h *harness) sweep(t *testing.T) {
	ctx := context.WithoutCancel(t.Context())
	left, err := h.b.List(ctx, Label, h.run)
	if err != nil {
		t.Errorf("listing what the check created: %v", err)
	}
	for _, r := range left {
		if r.Kind == "container" {
			if err := h.b.Remove(ctx, r.ID); err != nil {
				t.Errorf("removing what the check created: %v", err)
			}
		}
	}
	for _, r := range left {
		if r.Kind == "network" {
			if err := h.b.RemoveNetwork(ctx, r.ID); err != nil {
				t.Errorf("removing what the check created: %v", err)
			}
		}
	}
}

// layout writes a /opt/ml for the fixture program to a new directory.
func layout(t *testing.T, hp optml.Hyperparameters, rc *optml.ResourceConfig) string {
	t.Helper()
	dir := t.TempDir()
	// The container's user may differ from the test's.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := optml.At(dir).Write(optml.Layout{Hyperparameters: hp, Resource: rc}); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	return dir
}

// create creates a container of the fixture image running cmd, labelled
// for this run, with optml mounted at /opt/ml when set.
func (h *harness) create(t *testing.T, s platform.ContainerSpec, optml string) string {
	t.Helper()
	s.Image = h.o.Image
	s.Labels = h.labels()
	if optml != "" {
		s.Mounts = append(s.Mounts, platform.Mount{Source: optml, Target: "/opt/ml"})
	}
	id, err := h.b.Create(t.Context(), s)
	if err != nil {
		t.Fatalf("Create(%v) = %v", s.Cmd, err)
	}
	return id
}

func (h *harness) start(t *testing.T, id string) {
	t.Helper()
	if err := h.b.Start(t.Context(), id); err != nil {
		t.Fatalf("Start = %v", err)
	}
}

func (h *harness) wait(t *testing.T, id string) platform.Exit {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ex, err := h.b.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait = %v\n%s", err, h.logs(t, id))
	}
	return ex
}

func (h *harness) logs(t *testing.T, id string) string {
	var out, errb bytes.Buffer
	if err := h.b.Logs(t.Context(), id, false, &out, &errb); err != nil {
		return fmt.Sprintf("(reading logs: %v)", err)
	}
	return "stdout:\n" + out.String() + "stderr:\n" + errb.String()
}

// waitForLog polls the container's stdout until it holds s.
func (h *harness) waitForLog(t *testing.T, id, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var out bytes.Buffer
		if err := h.b.Logs(t.Context(), id, false, &out, io.Discard); err == nil && strings.Contains(out.String(), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not log %q in a minute:\n%s", s, h.logs(t, id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testExitCodeAndLogs: a training runs to its end; following its logs
// returns once it exits, with its stdout and stderr apart; the engine
// measures how long it ran; its bind mount is written through.
func testExitCodeAndLogs(t *testing.T, h *harness) {
	dir := layout(t, optml.Hyperparameters{"seconds": "1", "epochs": "4"}, nil)
	id := h.create(t, platform.ContainerSpec{Cmd: []string{"train"}}, dir)
	h.start(t, id)
	var out, errb bytes.Buffer
	if err := h.b.Logs(t.Context(), id, true, &out, &errb); err != nil {
		t.Fatalf("Logs(follow) = %v", err)
	}
	if !strings.Contains(out.String(), "fixture: loss=0.42; epochs=4") {
		t.Errorf("Logs(follow) returned before the end of the training: stdout %q, stderr %q", out.String(), errb.String())
	}
	ex := h.wait(t, id)
	if ex.Code != 0 || ex.Ran < time.Second {
		t.Errorf("Wait = %+v, want exit 0 after at least 1s of training\n%s", ex, h.logs(t, id))
	}
	b, err := os.ReadFile(filepath.Join(dir, "model", "model.json"))
	if err != nil || !strings.Contains(string(b), `"epochs":4`) {
		t.Errorf("model.json through the bind mount = %s (%v), want epochs 4", b, err)
	}

	bad := h.create(t, platform.ContainerSpec{Cmd: []string{"evaluate"}}, "")
	h.start(t, bad)
	if ex := h.wait(t, bad); ex.Code != 2 {
		t.Errorf("exit of an unknown command = %d, want 2\n%s", ex.Code, h.logs(t, bad))
	}
	out.Reset()
	errb.Reset()
	if err := h.b.Logs(t.Context(), bad, false, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), `fixture: unknown command "evaluate"`) {
		t.Errorf("Logs = stdout %q, stderr %q; want the complaint on stderr only", out.String(), errb.String())
	}
}

// startServer starts `serve` with /opt/ml mounted and waits until it
// listens.
func (h *harness) startServer(t *testing.T, s platform.ContainerSpec) (id, dir string) {
	t.Helper()
	dir = layout(t, optml.Hyperparameters{"seconds": "0"}, nil)
	s.Cmd = []string{"serve"}
	id = h.create(t, s, dir)
	h.start(t, id)
	h.waitForLog(t, id, "fixture: serving on :8080")
	return id, dir
}

// testExec: exec returns the command's exit code and its output.
func testExec(t *testing.T, h *harness) {
	id, dir := h.startServer(t, platform.ContainerSpec{})
	code, out, err := h.b.Exec(t.Context(), id, []string{"/fixture", "evaluate"})
	if err != nil || code != 2 || !strings.Contains(string(out), `unknown command "evaluate"`) {
		t.Errorf(`Exec(/fixture evaluate) = %d, %q, %v; want 2 and the complaint`, code, out, err)
	}
	code, out, err = h.b.Exec(t.Context(), id, []string{"/fixture", "train"})
	if err != nil || code != 0 || !strings.Contains(string(out), "fixture: loss=0.42") {
		t.Errorf(`Exec(/fixture train) = %d, %q, %v; want 0 and the training's log`, code, out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model", "model.json")); err != nil {
		t.Errorf("the exec'd training wrote no model: %v", err)
	}
}

// testSignals: SIGTERM reaches the program, which stops cleanly; SIGKILL
// ends it with 137; an exited container cannot be signalled.
func testSignals(t *testing.T, h *harness) {
	id, _ := h.startServer(t, platform.ContainerSpec{})
	if err := h.b.Kill(t.Context(), id, "SIGTERM"); err != nil {
		t.Fatalf("Kill(SIGTERM) = %v", err)
	}
	if ex := h.wait(t, id); ex.Code != 0 {
		t.Errorf("exit after SIGTERM = %d, want 0 (the server stops cleanly)\n%s", ex.Code, h.logs(t, id))
	}
	if l := h.logs(t, id); !strings.Contains(l, "fixture: stopped") {
		t.Errorf("the server did not log stopping:\n%s", l)
	}
	if err := h.b.Kill(t.Context(), id, "SIGTERM"); err == nil {
		t.Errorf("Kill of an exited container = nil, want an error")
	}

	dir := layout(t, optml.Hyperparameters{"seconds": "60"}, nil)
	tr := h.create(t, platform.ContainerSpec{Cmd: []string{"train"}}, dir)
	h.start(t, tr)
	h.waitForLog(t, tr, "fixture: training starts")
	if err := h.b.Kill(t.Context(), tr, "SIGKILL"); err != nil {
		t.Fatalf("Kill(SIGKILL) = %v", err)
	}
	if ex := h.wait(t, tr); ex.Code != 137 {
		t.Errorf("exit after SIGKILL = %d, want 137", ex.Code)
	}
}

// testPorts: a published port answers on the publish address, and only
// there; a port not published has no host port.
func testPorts(t *testing.T, h *harness) {
	id, _ := h.startServer(t, platform.ContainerSpec{Ports: []string{"8080/tcp"}, PublishIP: h.o.PublishIP})
	port, err := h.b.Port(t.Context(), id, "8080/tcp")
	if err != nil {
		t.Fatalf("Port(8080/tcp) = %v", err)
	}
	url := "http://" + net.JoinHostPort(h.o.PublishIP.String(), port) + optml.RoutePing
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no 200 in 30s (last: %v)\n%s", url, err, h.logs(t, id))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if other := otherAddr(h.o.PublishIP); h.o.PublishIP.IsLoopback() && other.IsValid() {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(other.String(), port), 2*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("port %s answers on %s too, want it published on %s only", port, other, h.o.PublishIP)
		}
	}
	if p, err := h.b.Port(t.Context(), id, "9999/tcp"); err == nil {
		t.Errorf("Port(9999/tcp) = %q, want an error for a port not published", p)
	}
}

// otherAddr is a non-loopback IPv4 address of this machine, if any.
func otherAddr(not netip.Addr) netip.Addr {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() && p.Addr() != not {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// testNetwork: two hosts on an internal network, each at its fixed
// address under its alias, find and reach each other by name; the
// network is listed by label, cannot be removed while a host runs, and
// can be once they have exited.
func testNetwork(t *testing.T, h *harness) {
	ctx := t.Context()
	var nw string
	var subnet netip.Prefix
	var err error
	for range 8 {
		subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(rand.IntN(256)), 0}), 24)
		nw, err = h.b.CreateNetwork(ctx, platform.NetworkSpec{Labels: h.labels(), Subnet: subnet, Internal: true})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("CreateNetwork = %v", err)
	}
	hosts := []string{"algo-1", "algo-2"}
	addr := func(i int) netip.Addr {
		a := subnet.Addr().As4()
		a[3] = byte(10 + i)
		return netip.AddrFrom4(a)
	}
	ids := make([]string, len(hosts))
	for i, host := range hosts {
		rc := optml.SingleHost(host, hosts...)
		dir := layout(t, optml.Hyperparameters{"seconds": "0"}, &rc)
		ids[i] = h.create(t, platform.ContainerSpec{Cmd: []string{"train"}, Hostname: host,
			Network: &platform.Attachment{Network: nw, Aliases: []string{host}, IP: addr(i)}}, dir)
	}
	// The first host waits for its peer, so the network has a live
	// endpoint now.
	h.start(t, ids[0])
	h.waitForLog(t, ids[0], "fixture: training starts")
	if err := h.b.RemoveNetwork(ctx, nw); err == nil {
		t.Errorf("RemoveNetwork with a running container on it = nil, want an error")
	}
	h.start(t, ids[1])
	for i, id := range ids {
		if ex := h.wait(t, id); ex.Code != 0 {
			t.Errorf("%s: exit %d, want 0\n%s", hosts[i], ex.Code, h.logs(t, id))
		}
		peer := hosts[1-i]
		if want := fmt.Sprintf("fixture: resolved peer %s to %s", peer, addr(1-i)); !strings.Contains(h.logs(t, id), want) {
			t.Errorf("%s did not log %q:\n%s", hosts[i], want, h.logs(t, id))
		}
	}
	got := h.list(t)
	if want := []string{"container " + ids[0], "container " + ids[1], "network " + nw}; !slices.Equal(got, sorted(want)) {
		t.Errorf("List = %v, want %v", got, sorted(want))
	}
	// As on the Docker Engine: exited containers hold no endpoint.
	if err := h.b.RemoveNetwork(ctx, nw); err != nil {
		t.Errorf("RemoveNetwork once its containers exited = %v", err)
	}
	if err := h.b.RemoveNetwork(ctx, nw); err != nil {
		t.Errorf("RemoveNetwork of a removed network = %v, want nil", err)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

func (h *harness) list(t *testing.T) []string {
	t.Helper()
	rs, err := h.b.List(t.Context(), Label, h.run)
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.Kind+" "+r.ID)
	}
	return sorted(out)
}

// testNoNetwork: a container without a network has no interface but
// loopback (the fixture, told to break rule C-TR-12 through its
// environment, fails without one).
func testNoNetwork(t *testing.T, h *harness) {
	for _, none := range []bool{false, true} {
		dir := layout(t, optml.Hyperparameters{"seconds": "0"}, nil)
		id := h.create(t, platform.ContainerSpec{Cmd: []string{"train"}, NoNetwork: none,
			Env: map[string]string{fixtures.EnvBreak: "C-TR-12"}}, dir)
		h.start(t, id)
		ex := h.wait(t, id)
		if failed := ex.Code != 0; failed != none {
			t.Errorf("NoNetwork %v: exit %d; want a failure exactly without a network\n%s", none, ex.Code, h.logs(t, id))
		}
	}
}

// testRemoveAndList: List finds what carries the label; Remove removes a
// running container, twice without error; Wait on a removed container
// fails.
func testRemoveAndList(t *testing.T, h *harness) {
	ctx := t.Context()
	running, _ := h.startServer(t, platform.ContainerSpec{})
	created := h.create(t, platform.ContainerSpec{Cmd: []string{"train"}}, "")
	other, err := h.b.Create(ctx, platform.ContainerSpec{Image: h.o.Image, Cmd: []string{"train"}, Labels: map[string]string{Label: h.run + "-other"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.b.Remove(context.WithoutCancel(ctx), other)
	if got, want := h.list(t), sorted([]string{"container " + running, "container " + created}); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	for _, id := range []string{running, created} {
		if err := h.b.Remove(ctx, id); err != nil {
			t.Errorf("Remove = %v", err)
		}
		if err := h.b.Remove(ctx, id); err != nil {
			t.Errorf("Remove of a removed container = %v, want nil", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := h.b.Wait(wctx, id)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait on a removed container = %v, want an error at once", err)
		}
	}
	if got := h.list(t); len(got) != 0 {
		t.Errorf("List after Remove = %v, want nothing", got)
	}
}

// testGPU: asking for GPUs starts only where the engine has a GPU runtime.
func testGPU(t *testing.T, h *harness) {
	id := h.create(t, platform.ContainerSpec{Cmd: []string{"evaluate"}, GPU: true}, "")
	err := h.b.Start(t.Context(), id)
	switch {
	case h.o.GPUs && err != nil:
		t.Errorf("Start with GPUs = %v, want it started", err)
	case !h.o.GPUs && !errors.Is(err, platform.ErrNoGPURuntime):
		t.Errorf("Start with GPUs on an engine without a GPU runtime = %v, want platform.ErrNoGPURuntime", err)
	}
}
