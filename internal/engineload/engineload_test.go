package engineload_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/engineload"
	"github.com/sagekit/sagekit/internal/testenv"
)

// fileLayer is a layer holding one regular file.
func fileLayer(t *testing.T, path, body string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tw, body)
	tw.Close()
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// readFile copies path out of a container created from image.
func readFile(t *testing.T, dc *client.Client, image, path string) string {
	t.Helper()
	ctx := context.Background()
	c, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: image, Cmd: []string{"/none"}}})
	if err != nil {
		t.Fatalf("creating a container from %s: %v", image, err)
	}
	defer dc.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
	r, err := dc.CopyFromContainer(ctx, c.ID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		t.Fatalf("copying %s out of %s: %v", path, image, err)
	}
	defer r.Content.Close()
	tr := tar.NewReader(r.Content)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(tr)
	return string(b)
}

func TestAppend(t *testing.T) {
	dc := testenv.Docker(t)
	ctx := context.Background()
	nonce := fmt.Sprint(time.Now().UnixNano())
	baseRef := "sagekit-test/engineload-base:" + nonce
	outRef := "sagekit-test/engineload-out:" + nonce
	t.Cleanup(func() {
		for _, r := range []string{outRef, baseRef} {
			dc.ImageRemove(context.Background(), r, client.ImageRemoveOptions{Force: true})
		}
	})

	base, err := mutate.AppendLayers(empty.Image, fileLayer(t, "base.txt", "from the base "+nonce))
	if err != nil {
		t.Fatal(err)
	}
	base, err = mutate.Config(base, v1.Config{Env: []string{"A=1"}, Entrypoint: []string{"/bin/x"}, Labels: map[string]string{"keep": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(baseRef)
	if _, err := daemon.Write(tag, base, daemon.WithClient(dc)); err != nil {
		t.Fatal(err)
	}

	added := fileLayer(t, "added.txt", "added "+nonce)
	res, err := engineload.Append(ctx, dc, engineload.Request{
		Base:   baseRef,
		Tags:   []string{outRef},
		Layers: []engineload.Layer{{Layer: added, CreatedBy: "COPY added.txt /"}},
		Edit: func(cf *v1.ConfigFile) error {
			cf.Config.Env = append(cf.Config.Env, "B=2")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := dc.ImageInspect(ctx, outRef)
	if err != nil {
		t.Fatal(err)
	}
	if ins.ID != res.ID {
		t.Errorf("the Engine calls the image %s, Append returned %s", ins.ID, res.ID)
	}
	baseDiff, _ := mustLayers(t, base)
	addedDiff, _ := added.DiffID()
	want := append(baseDiff, addedDiff.String())
	if !slices.Equal(ins.RootFS.Layers, want) {
		t.Errorf("layers = %v, want %v", ins.RootFS.Layers, want)
	}
	if got := ins.Config.Env; !slices.Equal(got, []string{"A=1", "B=2"}) {
		t.Errorf("Env = %v, want [A=1 B=2]", got)
	}
	if ins.Config.Labels["keep"] != "yes" || !slices.Equal(ins.Config.Entrypoint, []string{"/bin/x"}) {
		t.Errorf("the base's config was not kept: labels %v, entrypoint %v", ins.Config.Labels, ins.Config.Entrypoint)
	}
	if got := readFile(t, dc, outRef, "/base.txt"); got != "from the base "+nonce {
		t.Errorf("/base.txt = %q", got)
	}
	if got := readFile(t, dc, outRef, "/added.txt"); got != "added "+nonce {
		t.Errorf("/added.txt = %q", got)
	}
	if n := len(res.Config.History); n != 2 || res.Config.History[1].CreatedBy != "COPY added.txt /" {
		t.Errorf("history = %+v, want the base's entry and the COPY", res.Config.History)
	}
}

// TestAppendMissingBase: a base the Engine lacks is an error naming it.
func TestAppendMissingBase(t *testing.T) {
	dc := testenv.Docker(t)
	_, err := engineload.Append(context.Background(), dc, engineload.Request{Base: "sagekit-test/no-such-image:none", Tags: []string{"sagekit-test/x:y"}})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("sagekit-test/no-such-image:none")) {
		t.Fatalf("err = %v, want one naming the missing base", err)
	}
}

func mustLayers(t *testing.T, img v1.Image) ([]string, error) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out, nil
}
