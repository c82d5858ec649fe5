package push

import (
	"net/http"
	"strings"
	"sync"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event, in the order a push emits them.
const (
	// EventStart: the push begins; Ref and BlobsTotal are set.
	EventStart EventKind = iota
	// EventRepositoryCreated: the ECR repository Ref was created.
	EventRepositoryCreated
	// EventBlobSkipped: blob Digest is already in the registry.
	EventBlobSkipped
	// EventBlobUploaded: blob Digest was uploaded.
	EventBlobUploaded
	// EventBytes: BytesDone of BytesTotal bytes are uploaded.
	EventBytes
	// EventRetry: a transient failure (Err) is retried.
	EventRetry
	// EventManifest: the push is done: the manifest (or index) Digest was
	// written as Ref. It is the last event.
	EventManifest
)

var kindNames = [...]string{"start", "repository-created", "blob-skipped", "blob-uploaded", "bytes", "retry", "manifest"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText writes the kind's name, so JSON events read well.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one step of a push. Blobs counts the blobs done (uploaded or
// found) so far, out of BlobsTotal (layers and configs, each counted once).
type Event struct {
	Kind       EventKind `json:"kind"`
	Ref        string    `json:"ref,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	Blobs      int       `json:"blobs"`
	BlobsTotal int       `json:"blobs_total"`
	BytesDone  int64     `json:"bytes_done,omitempty"`
	BytesTotal int64     `json:"bytes_total,omitempty"`
	// Err is the failure being retried, with credentials removed.
	Err string `json:"error,omitempty"`
}

// emitter serialises events and keeps the counts a Result reports.
type emitter struct {
	f func(Event)

	mu         sync.Mutex
	done       map[string]bool
	uploaded   int
	skipped    int
	blobsTotal int
	bytesDone  int64
	bytesTotal int64
}

func (e *emitter) emit(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.send(ev)
}

// send fills in the counts and calls f; e.mu is held.
func (e *emitter) send(ev Event) {
	ev.Blobs, ev.BlobsTotal = len(e.done), e.blobsTotal
	if ev.Kind == EventBytes {
		e.bytesDone, e.bytesTotal = ev.BytesDone, ev.BytesTotal
	}
	if e.f != nil {
		e.f(ev)
	}
}

// blob records that digest is in the registry, uploaded or not; each digest
// counts once.
func (e *emitter) blob(digest string, uploaded bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done[digest] {
		return
	}
	e.done[digest] = true
	kind := EventBlobSkipped
	if uploaded {
		e.uploaded++
		kind = EventBlobUploaded
	} else {
		e.skipped++
	}
	e.send(Event{Kind: kind, Digest: digest})
}

// observer watches the registry protocol go by to tell which blobs were
// found and which were uploaded, since go-containerregistry reports only
// bytes. It sees no credentials: it only reads methods, paths and status
// codes.
type observer struct {
	next http.RoundTripper
	e    *emitter
}

func (o *observer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	path := r.URL.Path
	switch {
	case r.Method == http.MethodHead && strings.Contains(path, "/blobs/sha256:") && resp.StatusCode == http.StatusOK:
		o.e.blob(path[strings.LastIndex(path, "/")+1:], false)
	case r.Method == http.MethodPost && strings.Contains(path, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated:
		if d := r.URL.Query().Get("mount"); d != "" {
			o.e.blob(d, false)
		}
	case r.Method == http.MethodPut && strings.Contains(path, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated:
		if d := r.URL.Query().Get("digest"); d != "" {
			o.e.blob(d, true)
		}
	}
	return resp, nil
}
