package local_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
)

func writeFiles(t *testing.T, dir string, files map[string][]byte) string {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write([]byte(s))
	w.Close()
	return buf.Bytes()
}

// TestTrainingInputModesAndCheckpoints runs, with boto3, a job with a
// channel in each input mode and a CheckpointConfig: Pipe channels come as
// FIFOs <channel>_0, <channel>_1, each holding every file in path order
// (a Gzip channel decompressed); FastFile and File channels as read-only
// directories; the checkpoints at S3Uri are in LocalPath at the start, and
// what the job writes and deletes there is mirrored back.
func TestTrainingInputModesAndCheckpoints(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := programImage(t, dc, "./local/testdata/inputs")
	base := t.TempDir()
	stream := writeFiles(t, filepath.Join(base, "stream"), map[string][]byte{"1.txt": []byte("one\n"), "sub/2.txt": []byte("two\n")})
	zipped := writeFiles(t, filepath.Join(base, "zipped"), map[string][]byte{"z.gz": gz(t, "unzipped\n")})
	fast := writeFiles(t, filepath.Join(base, "fast"), map[string][]byte{"f.txt": []byte("fast")})
	plain := writeFiles(t, filepath.Join(base, "plain"), map[string][]byte{"p.txt": []byte("plain")})
	ckpt := writeFiles(t, filepath.Join(base, "ckpt"), map[string][]byte{"old.ckpt": []byte("old"), "keep.ckpt": []byte("keep")})
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
e = os.environ
def channel(name, mode, **kw):
    return dict(ChannelName=name, InputMode=mode, DataSource={"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file://" + e[name.upper()]}}, **kw)
req = dict(TrainingJobName="modes", RoleArn="arn:aws:iam::000000000000:role/local",
    AlgorithmSpecification={"TrainingImage": e["IMG"], "TrainingInputMode": "File"},
    InputDataConfig=[channel("stream", "Pipe"), channel("zipped", "Pipe", CompressionType="Gzip"), channel("fast", "FastFile"), channel("plain", "File")],
    OutputDataConfig={"S3OutputPath": "file://" + e["OUT"]},
    CheckpointConfig={"S3Uri": "file://" + e["CKPT"], "LocalPath": "/opt/ml/ckpt"},
    ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    StoppingCondition={"MaxRuntimeInSeconds": 120})
bad = dict(req, TrainingJobName="bad", InputDataConfig=[channel("plain", "File", CompressionType="Gzip")])
c, m = code(lambda: sm.create_training_job(**bad))
assert c == "ValidationException" and "CompressionType" in m and "Pipe" in m, (c, m)
sm.create_training_job(**req)
d = wait(lambda: sm.describe_training_job(TrainingJobName="modes"), "TrainingJobStatus", ("Completed", "Failed", "Stopped"))
assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
assert d["CheckpointConfig"] == {"S3Uri": "file://" + e["CKPT"], "LocalPath": "/opt/ml/ckpt"}, d["CheckpointConfig"]
with tarfile.open(d["ModelArtifacts"]["S3ModelArtifacts"][len("file://"):]) as tf:
    rep = json.load(tf.extractfile("report.json"))
ch = rep["channels"]
assert ch["stream"] == {"mode": "Pipe", "epochs": ["one\ntwo\n", "one\ntwo\n"], "writable": False}, ch["stream"]
assert ch["zipped"] == {"mode": "Pipe", "epochs": ["unzipped\n", "unzipped\n"], "writable": False}, ch["zipped"]
assert ch["fast"] == {"mode": "FastFile", "files": ["f.txt=fast"], "writable": False}, ch["fast"]
assert ch["plain"] == {"mode": "File", "files": ["p.txt=plain"], "writable": False}, ch["plain"]
assert rep["local_path"] == "/opt/ml/ckpt" and rep["checkpoints"] == {"old.ckpt": "old", "keep.ckpt": "keep"}, rep
left = {n: open(os.path.join(e["CKPT"], n)).read() for n in os.listdir(e["CKPT"])}
assert left == {"keep.ckpt": "keep", "new.ckpt": "written by the job"}, left
`, "IMG="+img, "STREAM="+stream, "ZIPPED="+zipped, "FAST="+fast, "PLAIN="+plain, "CKPT="+ckpt, "OUT="+filepath.Join(base, "out"))
}
