package push_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/image/push"
)

// anonymous is a keychain that has nothing, so tests do not read the
// Docker configuration of the machine they run on.
var anonymous = authn.NewMultiKeychain()

// fast keeps retry waits short in tests.
var fast = push.WithRetry(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3})

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(2048, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestImageRoundTrip(t *testing.T) {
	t.Parallel()
	reg := ecrtest.NewRegistry(t, "", "")
	img := randomImage(t, 3)
	dst := reg.Host + "/team/model:v1"

	var events []push.Event
	res, err := push.Image(context.Background(), img, dst, push.WithKeychain(anonymous),
		push.WithProgress(func(e push.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatalf("Image(%s) error = %v", dst, err)
	}
	want := mustDigest(t, img)
	if res.Digest != want {
		t.Errorf("Result.Digest = %s, want the image's %s", res.Digest, want)
	}
	got, err := remote.Get(mustRef(t, dst))
	if err != nil {
		t.Fatalf("reading back %s: %v", dst, err)
	}
	if got.Digest != res.Digest {
		t.Errorf("digest read back = %s, pushed %s", got.Digest, res.Digest)
	}
	if res.TagURI() != dst || res.DigestURI() != reg.Host+"/team/model@"+want.String() {
		t.Errorf("URIs = %q, %q", res.TagURI(), res.DigestURI())
	}
	if _, err := remote.Head(mustRef(t, res.DigestURI())); err != nil {
		t.Errorf("the digest URI does not resolve: %v", err)
	}
	if res.Uploaded != 4 || res.Skipped != 0 || reg.Uploads() != 4 {
		t.Errorf("uploaded %d, skipped %d, registry saw %d uploads; want 4 (3 layers and the config), 0, 4", res.Uploaded, res.Skipped, reg.Uploads())
	}
	if len(events) < 2 || events[0].Kind != push.EventStart || events[0].BlobsTotal != 4 {
		t.Fatalf("events = %+v, want a start with 4 blobs first", events)
	}
	last := events[len(events)-1]
	if last.Kind != push.EventManifest || last.Blobs != 4 {
		t.Errorf("last event = %+v, want the manifest with 4 of 4 blobs done", last)
	}
	var sawBytes bool
	for _, e := range events {
		sawBytes = sawBytes || (e.Kind == push.EventBytes && e.BytesDone > 0 && e.BytesDone <= e.BytesTotal)
	}
	if !sawBytes {
		t.Errorf("no byte progress among %d events", len(events))
	}
}

func TestIndexTwoPlatforms(t *testing.T) {
	t.Parallel()
	reg := ecrtest.NewRegistry(t, "", "")
	amd, arm := randomImage(t, 2), randomImage(t, 2)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	dst := reg.Host + "/model:multi"
	res, err := push.Index(context.Background(), idx, dst, push.WithKeychain(anonymous))
	if err != nil {
		t.Fatalf("Index(%s) error = %v", dst, err)
	}
	ref := mustRef(t, dst)
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != res.Digest || res.Digest != mustDigest(t, idx) || !desc.MediaType.IsIndex() {
		t.Errorf("read back %s (%s), pushed %s, index is %s", desc.Digest, desc.MediaType, res.Digest, mustDigest(t, idx))
	}
	for arch, img := range map[string]v1.Image{"amd64": amd, "arm64": arm} {
		got, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}))
		if err != nil {
			t.Fatalf("pulling linux/%s: %v", arch, err)
		}
		if mustDigest(t, got) != mustDigest(t, img) {
			t.Errorf("linux/%s digest = %s, want %s", arch, mustDigest(t, got), mustDigest(t, img))
		}
	}
	if res.Uploaded != 6 {
		t.Errorf("uploaded %d blobs, want 6 (2 layers and a config per platform)", res.Uploaded)
	}
}

// TestExistingBlobsAreSkipped counts the blob uploads the registry receives:
// a second image sharing layers with the first sends only what is new.
func TestExistingBlobsAreSkipped(t *testing.T) {
	t.Parallel()
	reg := ecrtest.NewRegistry(t, "", "")
	base := randomImage(t, 3)
	if _, err := push.Image(context.Background(), base, reg.Host+"/model:base", push.WithKeychain(anonymous)); err != nil {
		t.Fatal(err)
	}
	if n := reg.Uploads(); n != 4 {
		t.Fatalf("first push: %d uploads, want 4", n)
	}
	extra, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	child, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	res, err := push.Image(context.Background(), child, reg.Host+"/model:child", push.WithKeychain(anonymous))
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Uploads() - 4; n != 2 || res.Uploaded != 2 || res.Skipped != 3 {
		t.Errorf("second push: registry saw %d uploads, Result says %d uploaded, %d skipped; want 2 (new layer, new config), 2, 3", n, res.Uploaded, res.Skipped)
	}
	before := reg.Uploads()
	res, err = push.Image(context.Background(), base, reg.Host+"/model:again", push.WithKeychain(anonymous))
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Uploads() - before; n != 0 || res.Skipped != 4 {
		t.Errorf("pushing the same image again: %d uploads, %d skipped; want 0, 4", n, res.Skipped)
	}
}

// TestInterruptedPushLeavesNoTag stalls a blob upload, cancels the push,
// and checks the tag does not exist: the manifest is written last.
func TestInterruptedPushLeavesNoTag(t *testing.T) {
	t.Parallel()
	reg := ecrtest.NewRegistry(t, "", "")
	started, stop := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop) })
	var once atomic.Bool
	reg.Before(func(w http.ResponseWriter, r *http.Request) bool {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			if once.CompareAndSwap(false, true) {
				close(started)
			}
			// The server notices the client hang up only once the body
			// is read; then the request's context ends.
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return true
		}
		return false
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	dst := reg.Host + "/model:v1"
	_, err := push.Image(ctx, randomImage(t, 2), dst, push.WithKeychain(anonymous), fast)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Image() error = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "no tag was set") {
		t.Errorf("error %q does not say the tag was not set", err)
	}
	_, err = remote.Head(mustRef(t, dst))
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD %s after the interrupted push = %v, want 404", dst, err)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	reg := ecrtest.NewRegistry(t, "", "")
	var failed atomic.Int64
	reg.Before(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && failed.Add(1) <= 2 {
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	img := randomImage(t, 1)
	res, err := push.Image(context.Background(), img, reg.Host+"/model:v1", push.WithKeychain(anonymous), fast)
	if err != nil {
		t.Fatalf("Image() with two 503s error = %v, want success after retries", err)
	}
	if failed.Load() < 3 || res.Digest != mustDigest(t, img) {
		t.Errorf("manifest PUTs = %d, want at least 3 (two refused, one accepted)", failed.Load())
	}
}

func TestRegistryErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		hint   string
	}{
		{"unauthorized", http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, "docker login"},
		{"denied", http.StatusForbidden, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, "lack push rights"},
		{"name unknown", http.StatusNotFound, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := ecrtest.NewRegistry(t, "", "")
			reg.Before(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					w.Write([]byte(tt.body))
					return true
				}
				return false
			})
			_, err := push.Image(context.Background(), randomImage(t, 1), reg.Host+"/model:v1", push.WithKeychain(anonymous), fast)
			var pe *push.Error
			if !errors.As(err, &pe) || !strings.Contains(pe.Hint, tt.hint) {
				t.Fatalf("error = %v, want a *push.Error whose hint mentions %q", err, tt.hint)
			}
		})
	}
}

func TestBadDestination(t *testing.T) {
	t.Parallel()
	_, err := push.Image(context.Background(), randomImage(t, 1), "Not A Ref", push.WithKeychain(anonymous))
	if err == nil || !strings.Contains(err.Error(), "REGISTRY/REPOSITORY") {
		t.Errorf("Image(bad ref) error = %v, want one that shows the expected form", err)
	}
}

func TestJSONEventKind(t *testing.T) {
	b, err := push.EventBlobUploaded.MarshalText()
	if err != nil || !bytes.Equal(b, []byte("blob-uploaded")) {
		t.Errorf("MarshalText() = %q, %v", b, err)
	}
}
