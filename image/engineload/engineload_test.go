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

	"github.com/sagekit/sagekit/image/engineload"
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

// unreadable is a layer whose bytes cannot be read: Append succeeds with it
// only when it leaves it out.
type unreadable struct{ v1.Layer }

func (unreadable) Uncompressed() (io.ReadCloser, error) { return nil, fmt.Errorf("read the layer") }
func (unreadable) Compressed() (io.ReadCloser, error)   { return nil, fmt.Errorf("read the layer") }

// TestAppendKnown: a layer that a known image holds at the same position is
// not sent again, and the image still has it; a known name the Engine
// lacks is ignored.
func TestAppendKnown(t *testing.T) {
	dc := testenv.Docker(t)
	ctx := context.Background()
	nonce := fmt.Sprint(time.Now().UnixNano())
	baseRef := "sagekit-test/engineload-base:k" + nonce
	firstRef := "sagekit-test/engineload-out:k1" + nonce
	secondRef := "sagekit-test/engineload-out:k2" + nonce
	t.Cleanup(func() {
		for _, r := range []string{secondRef, firstRef, baseRef} {
			dc.ImageRemove(context.Background(), r, client.ImageRemoveOptions{Force: true})
		}
	})
	base, err := mutate.AppendLayers(empty.Image, fileLayer(t, "base.txt", "base "+nonce))
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(baseRef)
	if _, err := daemon.Write(tag, base, daemon.WithClient(dc)); err != nil {
		t.Fatal(err)
	}
	big := fileLayer(t, "runtime.bin", "runtime "+nonce)
	if _, err := engineload.Append(ctx, dc, engineload.Request{Base: baseRef, Tags: []string{firstRef},
		Layers: []engineload.Layer{{Layer: big, CreatedBy: "COPY runtime"}, {Layer: fileLayer(t, "code.txt", "v1"), CreatedBy: "COPY code"}}}); err != nil {
		t.Fatal(err)
	}
	// Same first layer, unreadable this time, and a changed second one.
	_, err = engineload.Append(ctx, dc, engineload.Request{Base: baseRef, Tags: []string{secondRef},
		Known:  []string{"sagekit-test/engineload-out:absent" + nonce, firstRef},
		Layers: []engineload.Layer{{Layer: unreadable{big}, CreatedBy: "COPY runtime"}, {Layer: fileLayer(t, "code.txt", "v2"), CreatedBy: "COPY code"}}})
	if err != nil {
		t.Fatalf("the layer the known image holds was read: %v", err)
	}
	if got := readFile(t, dc, secondRef, "/runtime.bin"); got != "runtime "+nonce {
		t.Errorf("/runtime.bin = %q", got)
	}
	if got := readFile(t, dc, secondRef, "/code.txt"); got != "v2" {
		t.Errorf("/code.txt = %q, want v2", got)
	}
	// Without the known image the layer must be sent, so reading it fails.
	_, err = engineload.Append(ctx, dc, engineload.Request{Base: baseRef, Tags: []string{secondRef},
		Layers: []engineload.Layer{{Layer: fileLayer(t, "other.txt", nonce), CreatedBy: "COPY other"}, {Layer: unreadable{big}, CreatedBy: "COPY runtime"}}})
	if err == nil {
		t.Error("a layer at another position was left out: the Engine would not hold its chain")
	}
}
