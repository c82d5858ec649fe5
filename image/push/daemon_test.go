package push_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/image/push"
	"github.com/sagekit/sagekit/internal/testenv"
)

// TestPushFromDockerEngine loads a small image into the local engine,
// pushes it from there, and reads it back. The engine stores layers
// uncompressed, so the pushed manifest is not the one loaded: the test
// compares what was pushed with what the registry holds, and the config
// digest with the engine's image ID.
func TestPushFromDockerEngine(t *testing.T) {
	dc := testenv.Docker(t)
	ctx := context.Background()

	img := randomImage(t, 2)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Config: v1.Config{Labels: map[string]string{"dev.sagekit.test": "true"}},
		RootFS: mustConfig(t, img).RootFS,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	tag, err := name.NewTag("sagekit-test/push:" + hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(ctx))
	if err != nil || strings.Contains(out, "errorDetail") {
		t.Fatalf("loading %s into the engine: %v %s", tag, err, out)
	}
	t.Cleanup(func() {
		dc.ImageRemove(context.Background(), tag.String(), client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})

	src, err := push.Open(ctx, tag.String(), func() (daemon.Client, error) { return dc, nil })
	if err != nil {
		t.Fatalf("Open(%s) error = %v", tag, err)
	}
	defer src.Close()
	if src.Kind != "docker" {
		t.Fatalf("Open(%s).Kind = %q, want docker", tag, src.Kind)
	}
	reg := ecrtest.NewRegistry(t, "", "")
	dst := reg.Host + "/model:daemon"
	res, err := src.Push(ctx, dst, push.WithKeychain(anonymous))
	if err != nil {
		t.Fatalf("pushing %s from the engine: %v", tag, err)
	}
	got, err := remote.Image(mustRef(t, dst))
	if err != nil {
		t.Fatal(err)
	}
	if d := mustDigest(t, got); d != res.Digest {
		t.Errorf("read back %s, pushed %s", d, res.Digest)
	}
	inspect, err := dc.ImageInspect(ctx, tag.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := got.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.String() != inspect.ID {
		t.Errorf("config digest in the registry = %s, engine image ID = %s", cfg, inspect.ID)
	}
	want, _ := img.ConfigName()
	if cfg != want {
		t.Errorf("config digest = %s, want the loaded image's %s", cfg, want)
	}
}

func mustConfig(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}
