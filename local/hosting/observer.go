package hosting

import (
	"io"

	"github.com/sagekit/sagekit/platform"
)

// Observer follows endpoints' containers from inside the engine, for a
// client in the same process (sagekit run endpoint) that renders them as
// they happen and talks to a container itself. Calls for different
// containers may come at the same time.
type Observer interface {
	// ContainerOutput returns where a container's stdout and stderr go,
	// as they are written, besides the endpoint's log stream; a nil
	// writer sends that stream nowhere else. It is called once the
	// container runs.
	ContainerOutput(endpoint, variant string, c *platform.Endpoint) (stdout, stderr io.Writer)
	// ContainerHealth is given what polling the container's /ping found:
	// its first 200 (from then on c.URL serves the container's routes
	// and c.Done is closed if it exits), or why the wait ended.
	ContainerHealth(endpoint, variant string, c *platform.Endpoint, h platform.Health)
	// ContainerStopped is given how the container stopped when its
	// instance was removed (SIGTERM, then SIGKILL after
	// optml.HostingStopGraceSeconds), once its output has been written.
	ContainerStopped(endpoint, variant string, c *platform.Endpoint, st platform.StopResult, err error)
}

// nopObserver is the Observer of a Manager given none.
type nopObserver struct{}

func (nopObserver) ContainerOutput(string, string, *platform.Endpoint) (io.Writer, io.Writer) {
	return nil, nil
}
func (nopObserver) ContainerHealth(string, string, *platform.Endpoint, platform.Health) {}
func (nopObserver) ContainerStopped(string, string, *platform.Endpoint, platform.StopResult, error) {
}

// also returns a writer to w and extra, or w alone when extra is nil. A
// failed write to extra (a closed terminal) does not stop the log stream.
func also(w, extra io.Writer) io.Writer {
	if extra == nil {
		return w
	}
	return tee{w, extra}
}

type tee struct{ w, extra io.Writer }

func (t tee) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.extra.Write(p)
	return n, err
}
