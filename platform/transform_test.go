package platform_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// batchServer is the test inference program (see its package comment).
const batchServer = "./platform/testdata/batchserver"

// scratchImage loads an image holding only the static program bin as its
// entrypoint into the engine behind dc, and removes it when t ends.
func scratchImage(t *testing.T, dc *client.Client, bin, repo string) string {
	t.Helper()
	prog, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "program", Mode: 0o755, Size: int64(len(prog)), Typeflag: tar.TypeReg},
		{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir},
	} {
		h.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(prog)
		}
	}
	tw.Close()
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = v1.Config{Entrypoint: []string{"/program"}, Labels: map[string]string{testLabel: "true"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := repo + ":" + randomSuffix()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(t.Context())); err != nil {
		t.Fatalf("loading %s: %v", ref, err)
	}
	t.Cleanup(func() {
		if _, err := dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing %s: %v", ref, err)
		}
	})
	return ref
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// labelledEngine is an engine whose containers carry a label unique to t;
// at the end of t nothing may carry it.
func labelledEngine(t *testing.T, dc *client.Client) *platform.Engine {
	t.Helper()
	run := strings.NewReplacer("/", "-").Replace(t.Name()) + "-" + randomSuffix()
	e, err := platform.New(t.Context(), platform.WithClient(dc), platform.WithLabels(map[string]string{testLabel: run}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		left, err := e.Leftovers(ctx, testLabel, run)
		if err != nil {
			t.Error(err)
		}
		if len(left) > 0 {
			t.Errorf("left behind: %v", left)
			e.Sweep(ctx, testLabel, run)
		}
	})
	return e
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, c := range files {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readOutputs returns every file under dir by relative path.
func readOutputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return got
}

func TestTransform(t *testing.T) {
	dc := testenv.Docker(t)
	bin := testenv.Binary(t, batchServer, runtime.GOARCH)
	img := scratchImage(t, dc, bin, "sagekit-platform-transform-test")
	e := labelledEngine(t, dc)

	modelDir := t.TempDir()
	writeFiles(t, modelDir, map[string]string{"weights.bin": "w", "code/inference.py": "pass\n"})
	modelTar := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := platform.PackDirs(modelTar, modelDir); err != nil {
		t.Fatal(err)
	}
	lines20, want20 := "", ""
	for i := range 20 {
		lines20 += fmt.Sprintf("r%02d\n", i)
		want20 += fmt.Sprintf("R%02d#1\n", i)
	}
	const containerParams = `{"BatchStrategy":"SINGLE_RECORD","MaxPayloadInMB":2,"MaxConcurrentTransforms":3}`

	tests := []struct {
		name  string
		input map[string]string
		job   platform.TransformJob
		// want is every file of the output directory.
		want       map[string]string
		wantErr    string
		wantParams optml.ExecutionParameters
		// wantContainer is what /execution-parameters proposed.
		wantContainer *optml.ExecutionParameters
		check         func(t *testing.T, res *platform.TransformResult)
	}{{
		name:       "line multi-record packs records in order",
		input:      map[string]string{"a.csv": "a\nb\nc\n", "sub/b.csv": "d\ne"},
		job:        platform.TransformJob{SplitType: platform.SplitLine, AssembleWith: platform.AssembleLine},
		want:       map[string]string{"a.csv.out": "A#3\nB#3\nC#3\n", "sub/b.csv.out": "D#2\nE#2\n"},
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 1, BatchStrategy: optml.MultiRecord, MaxPayloadInMB: 6},
		check: func(t *testing.T, res *platform.TransformResult) {
			if got := res.Files[0].Requests; got != 1 {
				t.Errorf("a.csv went out in %d requests, want 1", got)
			}
		},
	}, {
		name:       "single record, concurrent, order kept",
		input:      map[string]string{"r.csv": lines20},
		job:        platform.TransformJob{SplitType: platform.SplitLine, BatchStrategy: optml.SingleRecord, MaxConcurrentTransforms: 4, AssembleWith: platform.AssembleLine},
		want:       map[string]string{"r.csv.out": want20},
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 4, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 6},
		check: func(t *testing.T, res *platform.TransformResult) {
			if f := res.Files[0]; f.Records != 20 || f.Requests != 20 {
				t.Errorf("records %d, requests %d; want 20 and 20", f.Records, f.Requests)
			}
		},
	}, {
		name:       "assemble none concatenates",
		input:      map[string]string{"a.csv": "a\nb\n"},
		job:        platform.TransformJob{SplitType: platform.SplitLine, BatchStrategy: optml.SingleRecord},
		want:       map[string]string{"a.csv.out": "A#1B#1"},
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 1, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 6},
	}, {
		name:       "split none sends whole files",
		input:      map[string]string{"a.csv": "a\nb\n", "b.csv": "c\n"},
		job:        platform.TransformJob{BatchStrategy: optml.SingleRecord, Model: modelTar},
		want:       map[string]string{"a.csv.out": "A#2\nB#2", "b.csv.out": "C#1"},
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 1, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 6},
	}, {
		name:  "a failing record fails only its file, after retries",
		input: map[string]string{"bad.csv": "x\nFAIL\ny\n", "good.csv": "z\n"},
		job: platform.TransformJob{SplitType: platform.SplitLine, BatchStrategy: optml.SingleRecord, AssembleWith: platform.AssembleLine,
			InvocationsMaxRetries: 2},
		want:       map[string]string{"good.csv.out": "Z#1\n"},
		wantErr:    "bad.csv: record 2: POST /invocations: 500",
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 1, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 6},
		check: func(t *testing.T, res *platform.TransformResult) {
			if n := strings.Count(string(res.Logs), "failing on purpose"); n != 3 {
				t.Errorf("the failing record was sent %d times, want 3 (1 + 2 retries); logs:\n%s", n, res.Logs)
			}
			if f := res.Files[0]; f.Input != "bad.csv" || f.Err == nil || f.Output != "" {
				t.Errorf("Files[0] = %+v, want bad.csv failed with no output", f)
			}
		},
	}, {
		name:          "container parameters used when the job sets none",
		input:         map[string]string{"a.csv": "a\nb\n"},
		job:           platform.TransformJob{SplitType: platform.SplitLine, AssembleWith: platform.AssembleLine, Env: map[string]string{"TEST_EXECUTION_PARAMETERS": containerParams}},
		want:          map[string]string{"a.csv.out": "A#1\nB#1\n"},
		wantParams:    optml.ExecutionParameters{MaxConcurrentTransforms: 3, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 2},
		wantContainer: &optml.ExecutionParameters{MaxConcurrentTransforms: 3, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 2},
	}, {
		name:  "job parameters win over the container's",
		input: map[string]string{"a.csv": "a\nb\n"},
		job: platform.TransformJob{SplitType: platform.SplitLine, AssembleWith: platform.AssembleLine, BatchStrategy: optml.MultiRecord, MaxPayloadInMB: 5,
			Env: map[string]string{"TEST_EXECUTION_PARAMETERS": `{"BatchStrategy":"SingleRecord","MaxPayloadInMB":2,"MaxConcurrentTransforms":3}`}},
		want:          map[string]string{"a.csv.out": "A#2\nB#2\n"},
		wantParams:    optml.ExecutionParameters{MaxConcurrentTransforms: 3, BatchStrategy: optml.MultiRecord, MaxPayloadInMB: 5},
		wantContainer: &optml.ExecutionParameters{MaxConcurrentTransforms: 3, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 2},
	}, {
		name:  "environment, headers and model",
		input: map[string]string{"a.csv": "ENV\nMODEL\n"},
		job: platform.TransformJob{SplitType: platform.SplitLine, AssembleWith: platform.AssembleLine, BatchStrategy: optml.SingleRecord,
			MaxPayloadInMB: 5, MaxConcurrentTransforms: 2, ContentType: "text/csv", Accept: "text/plain"},
		want: map[string]string{"a.csv.out": "SAGEMAKER_BATCH=true,SAGEMAKER_BATCH_STRATEGY=SINGLE_RECORD,SAGEMAKER_MAX_PAYLOAD_IN_MB=5," +
			"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS=2,ct=text/csv,accept=text/plain\ncode,weights.bin\n"},
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 2, BatchStrategy: optml.SingleRecord, MaxPayloadInMB: 5},
	}, {
		name:  "a request over the invocation timeout fails its file",
		input: map[string]string{"slow.csv": "SLEEP\n", "fast.csv": "f\n"},
		job: platform.TransformJob{SplitType: platform.SplitLine, AssembleWith: platform.AssembleLine, MaxConcurrentTransforms: 2,
			InvocationsTimeout: 500 * time.Millisecond, InvocationsMaxRetries: platform.NoRetries},
		want:       map[string]string{"fast.csv.out": "F#1\n"},
		wantErr:    "slow.csv: record 1: POST /invocations: no response within 500ms",
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 2, BatchStrategy: optml.MultiRecord, MaxPayloadInMB: 6},
	}, {
		name:       "a record over MaxPayloadInMB fails its file",
		input:      map[string]string{"big.csv": "a\n" + strings.Repeat("x", 1<<20) + "\n", "small.csv": "s\n"},
		job:        platform.TransformJob{SplitType: platform.SplitLine, AssembleWith: platform.AssembleLine, MaxPayloadInMB: 1},
		want:       map[string]string{"small.csv.out": "S#1\n"},
		wantErr:    "big.csv: record 2 is 1048577 bytes, larger than MaxPayloadInMB=1",
		wantParams: optml.ExecutionParameters{MaxConcurrentTransforms: 1, BatchStrategy: optml.MultiRecord, MaxPayloadInMB: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, out := t.TempDir(), t.TempDir()
			writeFiles(t, in, tt.input)
			job := tt.job
			job.Image, job.Input, job.Output = img, in, out
			if job.Model == "" {
				job.Model = modelDir
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			res, err := e.Transform(ctx, job)
			switch {
			case tt.wantErr == "" && err != nil:
				logs := ""
				if res != nil {
					logs = string(res.Logs)
				}
				t.Fatalf("Transform: %v\nlogs:\n%s", err, logs)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, platform.ErrTransformFailed)):
				t.Fatalf("Transform error = %v, want ErrTransformFailed mentioning %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, readOutputs(t, out)); diff != "" {
				t.Errorf("output files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantParams, res.Params); diff != "" {
				t.Errorf("Params (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantContainer, res.Container); diff != "" {
				t.Errorf("Container (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestTransformRejectsContainerParamsOverLimit(t *testing.T) {
	dc := testenv.Docker(t)
	bin := testenv.Binary(t, batchServer, runtime.GOARCH)
	img := scratchImage(t, dc, bin, "sagekit-platform-transform-test")
	e := labelledEngine(t, dc)
	in, out := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"a.csv": "a\n"})
	_, err := e.Transform(t.Context(), platform.TransformJob{Image: img, Model: t.TempDir(), Input: in, Output: out,
		Env: map[string]string{"TEST_EXECUTION_PARAMETERS": `{"MaxConcurrentTransforms":8,"MaxPayloadInMB":20}`}})
	var ve *platform.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "8 × 20 = 160 is over 100") {
		t.Errorf("Transform error = %v, want a ValidationError about 8 × 20", err)
	}
	if got := readOutputs(t, out); len(got) != 0 {
		t.Errorf("outputs = %v, want none", got)
	}
}

func TestTransformCancelRemovesContainer(t *testing.T) {
	dc := testenv.Docker(t)
	bin := testenv.Binary(t, batchServer, runtime.GOARCH)
	img := scratchImage(t, dc, bin, "sagekit-platform-transform-test")
	e := labelledEngine(t, dc) // its cleanup fails the test if a container is left
	in, out := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"a.csv": "a\n", "b.csv": "SLEEP\n", "c.csv": "c\n"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := e.Transform(ctx, platform.TransformJob{Image: img, Model: t.TempDir(), Input: in, Output: out,
		OnFile: func(platform.FileResult) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Transform after cancel = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(map[string]string{"a.csv.out": "A#1"}, readOutputs(t, out)); diff != "" {
		t.Errorf("output files (-want +got):\n%s", diff)
	}
	if res == nil {
		t.Error("Transform after cancel returned no result")
	}
}

func TestTransformJobValidate(t *testing.T) {
	in := t.TempDir()
	base := platform.TransformJob{Image: "img", Model: "m", Input: in, Output: "out"}
	tests := []struct {
		name string
		edit func(*platform.TransformJob)
		want string // "" for valid
	}{
		{"defaults", func(j *platform.TransformJob) {}, ""},
		{"payload 100", func(j *platform.TransformJob) { j.MaxPayloadInMB = 100 }, ""},
		{"payload over 100", func(j *platform.TransformJob) { j.MaxPayloadInMB = 101 }, "MaxPayloadInMB 101 is over the limit of 100"},
		{"product over 100", func(j *platform.TransformJob) { j.MaxPayloadInMB, j.MaxConcurrentTransforms = 30, 4 }, "4 × 30 = 120 is over 100"},
		{"record io", func(j *platform.TransformJob) { j.SplitType = "RecordIO" }, `split type "RecordIO" is not supported`},
		{"strategy spelling", func(j *platform.TransformJob) { j.BatchStrategy = "MULTI_RECORD" }, "use SingleRecord or MultiRecord"},
		{"assemble", func(j *platform.TransformJob) { j.AssembleWith = "Comma" }, "use None or Line"},
		{"retries", func(j *platform.TransformJob) { j.InvocationsMaxRetries = 4 }, "use 0 to 3"},
		{"input missing", func(j *platform.TransformJob) { j.Input = filepath.Join(in, "nope") }, "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := base
			tt.edit(&j)
			err := j.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseBatchStrategy(t *testing.T) {
	for in, want := range map[string]optml.BatchStrategy{
		"MultiRecord": optml.MultiRecord, "MULTI_RECORD": optml.MultiRecord,
		"SingleRecord": optml.SingleRecord, "SINGLE_RECORD": optml.SingleRecord,
	} {
		if got, err := optml.ParseBatchStrategy(in); got != want || err != nil {
			t.Errorf("ParseBatchStrategy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := optml.ParseBatchStrategy("Batch"); err == nil {
		t.Error(`ParseBatchStrategy("Batch") = nil error, want one`)
	}
}
