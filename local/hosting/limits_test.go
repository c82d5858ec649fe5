package hosting

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/platform"
)

// modelArchive writes model.tar.gz holding one file of size bytes under
// dir/name.
func modelArchive(t *testing.T, dir, name string, size int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	body := strings.Repeat("w", size)
	if err := tw.WriteHeader(&tar.Header{Name: "weights.bin", Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	zw.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestModelLimits: the limits the server is given bound what an endpoint's
// model.tar.gz, and a multi-model endpoint's models, may unpack to; the
// error names the flag and variable that raise them. With the limits
// unset, the same archives unpack.
func TestModelLimits(t *testing.T) {
	src := t.TempDir()
	archive := modelArchive(t, src, "model.tar.gz", 4<<10)
	modelArchive(t, src, "mme/a.tar.gz", 4<<10)
	const want = "unpacks to more than 1 KiB (raise the limit with --max-extract-bytes or SAGEKIT_MAX_EXTRACT_BYTES"
	for _, tt := range []struct {
		name   string
		limits platform.ExtractLimits
		err    string
	}{
		{"1 KiB", platform.ExtractLimits{Bytes: 1 << 10}, want},
		{"defaults", platform.ExtractLimits{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{mover: &data.Mover{}, dir: t.TempDir(), limits: tt.limits}
			v := &variant{name: "v", containers: []ContainerDef{{Image: "img", ModelDataUrl: archive}}}
			err := m.prepareModel(context.Background(), "ep", v)
			check(t, "an endpoint's model", err, tt.err)

			mme := &variant{name: "v", containers: []ContainerDef{{Image: "img", ModelDataUrl: filepath.Join(src, "mme"), Mode: ModeMultiModel}}}
			if err := m.prepareModel(context.Background(), "ep", mme); err != nil {
				t.Fatalf("prepareModel(multi-model) = %v", err)
			}
			_, err = mme.models.get(context.Background(), m.mover, "a.tar.gz")
			check(t, "a multi-model endpoint's model", err, tt.err)
		})
	}
}

func check(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unpacking %s: %v, want no error", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("unpacking %s: %v, want an error containing %q", what, err, want)
	}
}
