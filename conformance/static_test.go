package conformance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sagekit/sagekit/platform"
)

func TestLayerFacts(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]string
		want   fileFacts
	}{
		{
			name:   "files under /opt/ml",
			layers: [][]string{{"bin/app", "opt/ml/code/train.py"}},
			want:   fileFacts{optML: []string{"/opt/ml/code/train.py"}},
		},
		{
			name:   "deleted by a whiteout",
			layers: [][]string{{"opt/ml/code/train.py", "opt/ml/code/util.py"}, {"opt/ml/.wh.code"}},
		},
		{
			name:   "opaque directory",
			layers: [][]string{{"opt/ml/model/m.bin"}, {"opt/ml/model/.wh..wh..opq"}},
		},
		{
			name: "GPU driver files, stubs and compat allowed",
			layers: [][]string{{
				"lib/modules/6.1.0/kernel/drivers/video/nvidia.ko",
				"usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05",
				"usr/local/cuda/lib64/stubs/libcuda.so.1",
				"usr/local/cuda/compat/libcuda.so.550.54.15",
				"usr/local/cuda/lib64/libcudart.so.12",
				"usr/bin/getent",
			}},
			want: fileFacts{
				drivers: []string{"/lib/modules/6.1.0/kernel/drivers/video/nvidia.ko", "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"},
				cudart:  "usr/local/cuda/lib64/libcudart.so.12",
				getent:  true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := factsOf(applyLayers(tt.layers))
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(fileFacts{})); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGrowStaysUnderLimit(t *testing.T) {
	for _, ct := range []string{"text/csv", "application/json", "application/octet-stream"} {
		b := grow([]byte("1,2,3\n"), ct, largeSize)
		if len(b) > largeSize || len(b) < largeSize-64 {
			t.Errorf("grow(%s) = %d bytes, want just under %d", ct, len(b), largeSize)
		}
	}
}

func TestSelectRules(t *testing.T) {
	got, err := selectRules([]string{"c-img"}, []string{"C-IMG-03"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if want := []string{"C-IMG-01", "C-IMG-02", "C-IMG-04", "C-IMG-05"}; !slices.Equal(ids, want) {
		t.Errorf("selectRules = %v, want %v", ids, want)
	}
	if _, err := selectRules([]string{"C-NOPE"}, nil); err == nil {
		t.Error("selectRules accepted an unknown rule")
	}
	// A prefix with its trailing dash, as people type it.
	got, err = selectRules(nil, []string{"T-", "c-in-"})
	if err != nil {
		t.Fatalf("selectRules(skip T-, c-in-) = %v", err)
	}
	for _, r := range got {
		if strings.HasPrefix(r.ID, "T-") || strings.HasPrefix(r.ID, "C-IN-") {
			t.Errorf("selectRules(skip T-, c-in-) kept %s", r.ID)
		}
	}
	if len(got) == 0 {
		t.Error("selectRules(skip T-, c-in-) kept nothing")
	}
}

func TestLabelled(t *testing.T) {
	got := string(labelled([]byte(DefaultPayload + "\n")))
	want := "class-0,5.1,3.5,1.4,0.2\nclass-1,6.4,3.2,4.5,1.5\nclass-2,7.7,3.0,6.1,2.3\n"
	if got != want {
		t.Errorf("labelled(DefaultPayload) = %q, want %q", got, want)
	}
}

// TestTrainingFailureReport: a failed sample job shows the whole failure
// file and a fix line about the job, not "exit 0 when training succeeds".
func TestTrainingFailureReport(t *testing.T) {
	failure := "ExecuteUserScriptError:\nTraceback (most recent call last):\nValueError: could not convert string to float: 'class-0'"
	o := &observations{opts: defaults(), train: &platform.Training{Hosts: []platform.HostResult{{ExitCode: 1, Failure: failure, HasFailureFile: true}}}}
	var r *Rule
	for i := range rules {
		if rules[i].ID == "C-TR-05" {
			r = &rules[i]
		}
	}
	oc := r.check(o)
	if oc.status != StatusFail || !strings.Contains(oc.msg, "ValueError: could not convert") || oc.fix != fixTraining {
		t.Errorf("C-TR-05 = %+v, want a failure with the whole failure file and the training fix", oc)
	}
	rep := &Report{Results: []Result{{ID: "C-TR-05", Level: Must, Status: StatusFail, Message: oc.msg, Hint: oc.fix}}}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n    ValueError: could not convert") || strings.Contains(b.String(), "Exit 0 when training succeeds") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestExecutionParameters(t *testing.T) {
	tests := []struct {
		body string
		want Status
	}{
		{`{"MaxConcurrentTransforms":1,"BatchStrategy":"MultiRecord","MaxPayloadInMB":6}`, StatusPass},
		{`{"MaxConcurrentTransforms":1,"BatchStrategy":"MULTI_RECORD","MaxPayloadInMB":6}`, StatusPass},
		{`{"MaxConcurrentTransforms":"1","BatchStrategy":"MultiRecord","MaxPayloadInMB":6}`, StatusFail},
		{`{"MaxConcurrentTransforms":1,"BatchStrategy":"Lines","MaxPayloadInMB":6}`, StatusFail},
		{`{"MaxConcurrentTransforms":1,"MaxPayloadInMB":6}`, StatusFail},
		{`[]`, StatusFail},
	}
	for _, tt := range tests {
		if got := checkExecutionParameters([]byte(tt.body)); got.status != tt.want {
			t.Errorf("checkExecutionParameters(%s) = %s (%s), want %s", tt.body, got.status, got.msg, tt.want)
		}
	}
}

func TestLayerFiles(t *testing.T) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "./opt/ml/x", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain.Bytes())
	zw.Close()
	for name, b := range map[string][]byte{"plain": plain.Bytes(), "gzip": zipped.Bytes()} {
		if files, ok := layerFiles(bytes.NewReader(b)); !ok || len(files) != 1 || files[0] != "opt/ml/x" {
			t.Errorf("%s: layerFiles = %q, %v; want [opt/ml/x], true", name, files, ok)
		}
	}
	if _, ok := layerFiles(strings.NewReader(`{"schemaVersion": 2, "config": {}}` + strings.Repeat(" ", 600))); ok {
		t.Error("layerFiles(a JSON blob) = ok, want not a layer")
	}
}
