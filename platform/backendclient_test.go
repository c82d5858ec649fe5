package platform_test

import (
	"context"
	"os/exec"
	"strconv"
	"testing"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/owner"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/platform/platformtest"
)

// TestBackendWithClient: with WithBackend and WithClient, containers and
// networks go to the backend, while the client stays the engine's (for
// images and Info) and New still removes what dead owners left on it.
func TestBackendWithClient(t *testing.T) {
	dc := testenv.Docker(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	run := "backend-client-" + randomSuffix()
	me := owner.Labels()
	mk := func(name string, labels map[string]string) string {
		t.Helper()
		name = "sagekit-platform-test-" + name + "-" + run
		labels[testLabel] = run
		if _, err := dc.NetworkCreate(t.Context(), name, client.NetworkCreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dc.NetworkRemove(context.Background(), name, client.NetworkRemoveOptions{}) })
		return name
	}
	dead := mk("dead", map[string]string{owner.LabelPID: strconv.Itoa(gone.ProcessState.Pid()), owner.LabelStart: me[owner.LabelStart], owner.LabelNS: me[owner.LabelNS]})
	live := mk("live", me)

	b := &platformtest.Backend{}
	e, err := platform.New(t.Context(), platform.WithBackend(b), platform.WithClient(dc))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Client() != dc {
		t.Errorf("Client() = %p, want the client of WithClient %p", e.Client(), dc)
	}
	if _, err := dc.NetworkInspect(t.Context(), dead, client.NetworkInspectOptions{}); err == nil {
		t.Errorf("network %s of a dead owner is still there, want it removed by New", dead)
	}
	if _, err := dc.NetworkInspect(t.Context(), live, client.NetworkInspectOptions{}); err != nil {
		t.Errorf("network %s of this live process: %v, want it kept", live, err)
	}
	// The backend answers for what the engine runs: the fake has nothing,
	// though Docker has a network with the label.
	left, err := e.Leftovers(t.Context(), testLabel, run)
	if err != nil || len(left) != 0 {
		t.Errorf("Leftovers() = %v, %v, want none: listing must go to the backend, not to Docker", left, err)
	}
}
