package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/image/build"
	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/internal/testenv"
)

func TestBuildFlags(t *testing.T) {
	t.Setenv("FROM_ENV", "e")
	f := buildFlags{
		buildArgs:  []string{"A=1", "FROM_ENV"},
		labels:     []string{"k=v=w"},
		secrets:    []string{"id=tok,src=/tmp/t", "id=env,env=HOME"},
		cacheTo:    []string{"type=local,dest=/tmp/c"},
		cacheFrom:  []string{"type=local,src=/tmp/c"},
		output:     "type=oci,dest=/tmp/o.tar",
		sourceDate: "1700000000",
		platforms:  []string{"linux/amd64,linux/arm64"},
	}
	opts, err := f.options("dir")
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	epoch := time.Unix(1700000000, 0).UTC()
	want := build.Options{
		ContextDir:      "dir",
		Platforms:       []string{"linux/amd64,linux/arm64"},
		BuildArgs:       map[string]string{"A": "1", "FROM_ENV": "e"},
		Labels:          map[string]string{"k": "v=w"},
		Secrets:         []build.Secret{{ID: "tok", Src: "/tmp/t"}, {ID: "env", Env: "HOME"}},
		CacheTo:         []build.Cache{{Type: "local", Attrs: map[string]string{"dest": "/tmp/c"}}},
		CacheFrom:       []build.Cache{{Type: "local", Attrs: map[string]string{"src": "/tmp/c"}}},
		Output:          &build.Output{Type: "oci", Dest: "/tmp/o.tar"},
		SourceDateEpoch: &epoch,
	}
	if d := cmp.Diff(want, opts); d != "" {
		t.Errorf("options (-want +got):\n%s", d)
	}

	bad := []struct {
		name string
		f    buildFlags
		want string
	}{
		{"build-arg", buildFlags{buildArgs: []string{"UNSET_SAGEKIT_VAR_X"}}, "--build-arg UNSET_SAGEKIT_VAR_X: use K=V"},
		{"secret", buildFlags{secrets: []string{"id=x"}}, "use id=ID,src=FILE or id=ID,env=VAR"},
		{"cache", buildFlags{cacheTo: []string{"dest=/x"}}, "name the type"},
		{"epoch", buildFlags{sourceDate: "yesterday"}, "not a Unix time"},
		{"via", buildFlags{via: "fast"}, "--via fast: use auto, buildkit or direct"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.f.options("."); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("options error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestBuildPush runs `sagekit build --platform linux/amd64,linux/arm64 --push`
// against an in-process registry and reads the pushed index back.
func TestBuildPush(t *testing.T) {
	dc := testenv.Docker(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ecrtest.NewRegistry(t, "", "")
	dir := t.TempDir()
	dockerfile := "FROM scratch\nARG TARGETARCH\nCOPY .sagekit/linux-${TARGETARCH}/sagekit-runtime /usr/local/bin/sagekit-runtime\nENTRYPOINT [\"/usr/local/bin/sagekit-runtime\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "sagekit-test/build-push:" + strings.ToLower(t.Name())
	t.Cleanup(func() { dc.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}) })
	dst := reg.Host + "/built:v1"

	root := &cobra.Command{Use: "sagekit", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newBuildCmd())
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs([]string{"build", dir, "-t", tag, "--platform", "linux/amd64,linux/arm64", "--push", dst, "--progress", "quiet"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("sagekit build: %v\n%s", err, stderr.String())
	}
	ref, err := name.ParseReference(dst)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("reading the pushed index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.String())
	}
	if d := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, got); d != "" {
		t.Errorf("pushed platforms (-want +got):\n%s", d)
	}
	digest, _ := idx.Digest()
	if !strings.Contains(stdout.String(), "@"+digest.String()) {
		t.Errorf("stdout %q does not name the pushed digest %s", stdout.String(), digest)
	}
}

// TestBuildPushChecksFirst: a destination that cannot be pushed to fails
// before anything is built, with push's own flags and messages.
func TestBuildPushChecksFirst(t *testing.T) {
	dc := testenv.Docker(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY Dockerfile /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "sagekit-test/build-push-check:" + randomID()
	t.Cleanup(func() { dc.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}) })
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no region for --ecr", []string{"--ecr", "team/model:v1"}, ExitFailed, "region"},
		{"ECR flag for another registry", []string{"--push", "example.com/a:b", "--immutable-tags"}, ExitUsage, "apply to ECR destinations only"},
		{"region mismatch", []string{"--push", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/a:b", "--region", "us-east-1"}, ExitUsage, "does not match the region"},
		{"both", []string{"--push", "example.com/a:b", "--ecr", "a:b"}, ExitUsage, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := execCLI(t, append([]string{"build", dir, "-t", tag, "--progress", "plain"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
			if strings.Contains(stderr, "building") {
				t.Errorf("it built before checking the destination:\n%s", stderr)
			}
			if _, err := dc.ImageInspect(context.Background(), tag); err == nil {
				t.Errorf("%s was built although the push could not happen", tag)
			}
		})
	}
}
