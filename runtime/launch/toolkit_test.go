package launch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/optml"
)

func toolkitOptions(p optml.Paths, environ ...string) Options {
	opts := options(p, environ...)
	opts.Toolkit = true
	return opts
}

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("skipped: no python3 on PATH")
	}
}

// recordingPython is a stand-in interpreter that appends "PWD|argv" to
// log, one line per start, and exits with the code in $FAKE_PY_EXIT_<n>
// for start n (default 0).
func recordingPython(t *testing.T, log string) string {
	t.Helper()
	py := filepath.Join(t.TempDir(), "python-rec")
	script := `#!/bin/sh
n=0
[ -f "` + log + `" ] && n=$(wc -l < "` + log + `")
echo "$(pwd)|$*|pip-break=$PIP_BREAK_SYSTEM_PACKAGES" >> "` + log + `"
eval "code=\${FAKE_PY_EXIT_$((n))-0}"
[ "$code" = 0 ] || echo "fake python: failing with $code" >&2
exit "$code"
`
	if err := os.WriteFile(py, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return py
}

func writeCode(t *testing.T, p optml.Paths, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(p.Code(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestToolkitFailureExitsOneWithToolkitText(t *testing.T) {
	needPython(t)
	p := setup(t, optml.Hyperparameters{"epochs": "2"}, "train.py", "import sys\nsys.stderr.write('boom\\n')\nsys.exit(3)\n")
	opts := toolkitOptions(p, "SAGEMAKER_PROGRAM=train.py")
	code, err := Run(context.Background(), opts)
	if code != 1 || err != nil {
		t.Fatalf("Run = %d, %v; want 1, nil (the toolkit exits 1 whatever the code)", code, err)
	}
	want := "ExecuteUserScriptError:\nExitCode 3\nErrorMessage \"boom\"\nCommand \"python3 train.py --epochs 2\""
	if diff := cmp.Diff(want, readFile(t, p.Failure())); diff != "" {
		t.Errorf("failure file mismatch (-want +got):\n%s", diff)
	}

	// A failure file the program wrote is kept.
	p = setup(t, nil, "train.py", "import os, sys\nopen(os.environ['SM_OUTPUT_DIR'] + '/failure', 'w').write('mine')\nsys.exit(2)\n")
	if code, _ := Run(context.Background(), toolkitOptions(p, "SAGEMAKER_PROGRAM=train.py")); code != 1 {
		t.Fatalf("Run = %d, want 1", code)
	}
	if got := readFile(t, p.Failure()); got != "mine" {
		t.Errorf("failure file = %q, want the program's own", got)
	}
}

func TestToolkitEntryPointTypes(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		files map[string]string
		exits []string
		code  int
		want  []string // "dir|argv" without the pip-break suffix
	}{
		{
			name: "python program", entry: "train.py", files: map[string]string{"train.py": ""},
			want: []string{"CODE|train.py --epochs 2|"},
		},
		{
			name: "python program with requirements", entry: "train.py", files: map[string]string{"train.py": "", "requirements.txt": "x\n"},
			want: []string{"CODE|-m pip install -r requirements.txt|1", "CODE|train.py --epochs 2|"},
		},
		{
			name: "package", entry: "train.py", files: map[string]string{"train.py": "", "setup.py": ""},
			want: []string{"CODE|-m pip install .|1", "CODE|-m train --epochs 2|"},
		},
		{
			name: "package with requirements", entry: "train.py", files: map[string]string{"train.py": "", "setup.py": "", "requirements.txt": ""},
			want: []string{"CODE|-m pip install . -r requirements.txt|1", "CODE|-m train --epochs 2|"},
		},
		{
			name: "failing install", entry: "train.py", files: map[string]string{"train.py": "", "requirements.txt": ""},
			exits: []string{"FAKE_PY_EXIT_0=7"}, code: 1,
			want: []string{"CODE|-m pip install -r requirements.txt|1"},
		},
		{
			// A .sh entry is a command even with setup.py present.
			name: "shell entry", entry: "train.sh", files: map[string]string{"train.sh": "echo \"$(pwd)|$*|\" > " + "LOG\n", "setup.py": ""},
			want: []string{"CODE|--epochs 2|"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setup(t, optml.Hyperparameters{"epochs": "2", "sagemaker_program": `"` + tt.entry + `"`}, "", "")
			log := filepath.Join(t.TempDir(), "log")
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = strings.ReplaceAll(v, "LOG", log)
			}
			writeCode(t, p, files)
			opts := toolkitOptions(p, tt.exits...)
			opts.Python = recordingPython(t, log)
			code, err := Run(context.Background(), opts)
			if code != tt.code || err != nil {
				t.Fatalf("Run = %d, %v; want %d", code, err, tt.code)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(readFile(t, log)), "\n") {
				l = strings.Replace(l, p.Code(), "CODE", 1)
				l = strings.TrimSuffix(l, "pip-break=")
				l = strings.Replace(l, "|pip-break=1", "|1", 1)
				got = append(got, l)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("starts mismatch (-want +got):\n%s", diff)
			}
			if tt.code != 0 && !strings.HasPrefix(readFile(t, p.Failure()), "InstallRequirementsError:\nExitCode 7\nErrorMessage \"fake python: failing with 7\"") {
				t.Errorf("failure file = %q", readFile(t, p.Failure()))
			}
		})
	}
}

func TestToolkitCommandEntryThroughShell(t *testing.T) {
	hps := optml.Hyperparameters{"msg": `"it's \"quoted\" $HOME; echo injected"`, "e": `""`, "n": "3"}
	p := setup(t, hps, "", "")
	out := filepath.Join(t.TempDir(), "out")
	writeCode(t, p, map[string]string{"run": "#!/bin/sh\nfor a in \"$0\" \"$@\"; do printf '%s\\n' \"$a\"; done > " + out + "\npwd >> " + out + "\n"})
	if code, err := Run(context.Background(), toolkitOptions(p, "SAGEMAKER_PROGRAM=run")); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	want := "./run\n-e\n\n--msg\nit's \"quoted\" $HOME; echo injected\n-n\n3\n" + p.Code() + "\n"
	if diff := cmp.Diff(want, readFile(t, out)); diff != "" {
		t.Errorf("program saw (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(p.Code(), "run"))
	if err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("entry mode = %v, %v; want 0777 as the toolkit's chmod leaves it", fi.Mode(), err)
	}
}

func TestToolkitTrainingModuleReplacesEntryPoint(t *testing.T) {
	needPython(t)
	p := setup(t, nil, "", "")
	writeCode(t, p, map[string]string{
		"fw.py":    "import os, sys\ndef main():\n    open(os.environ['SM_MODEL_DIR'] + '/fw', 'w').write(repr(sys.argv))\n",
		"train.py": "import os\nopen(os.environ['SM_MODEL_DIR'] + '/user', 'w').write('ran')\n",
	})
	code, err := Run(context.Background(), toolkitOptions(p, "SAGEMAKER_PROGRAM=train.py", "SAGEMAKER_TRAINING_MODULE=fw:main"))
	if code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := readFile(t, filepath.Join(p.Model(), "fw")); got != "['-c']" {
		t.Errorf("fw:main saw argv %s", got)
	}
	if _, err := os.Stat(filepath.Join(p.Model(), "user")); err == nil {
		t.Error("the user entry point ran as well")
	}
	if _, err := os.Stat(p.Success()); err != nil {
		t.Errorf("no success file: %v", err)
	}

	// A function that raises fails the job with the toolkit's framework text.
	writeCode(t, p, map[string]string{"fw.py": "def main():\n    raise RuntimeError('framework broke')\n"})
	if code, _ := Run(context.Background(), toolkitOptions(p, "SAGEMAKER_TRAINING_MODULE=fw:main")); code != 1 {
		t.Fatalf("Run = %d, want 1", code)
	}
	if got := readFile(t, p.Failure()); !strings.HasPrefix(got, "Framework Error: \nTraceback") || !strings.Contains(got, "RuntimeError: framework broke") {
		t.Errorf("failure file = %q", got)
	}
}

func TestToolkitSubmitDirectory(t *testing.T) {
	src := filepath.Join(t.TempDir(), "sourcedir.tar.gz")
	if err := os.WriteFile(src, testenv.TarGz(t, map[string]string{"train.sh": "echo ran > \"$SM_MODEL_DIR/ran\"\n", "sub/data.txt": "x"}), 0o644); err != nil {
		t.Fatal(err)
	}
	// Empty code directory: the tarball is extracted there.
	p := setup(t, optml.Hyperparameters{"sagemaker_submit_directory": `"` + src + `"`, "sagemaker_program": `"train.sh"`}, "", "")
	if code, err := Run(context.Background(), toolkitOptions(p)); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := readFile(t, filepath.Join(p.Model(), "ran")); got != "ran\n" {
		t.Errorf("program output = %q", got)
	}
	if got := readFile(t, filepath.Join(p.Code(), "sub", "data.txt")); got != "x" {
		t.Errorf("extracted file = %q", got)
	}

	// Code present: an s3:// URI is not fetched.
	p = setup(t, optml.Hyperparameters{"sagemaker_submit_directory": `"s3://bucket/key.tar.gz"`}, "train.sh", "echo ran > \"$SM_MODEL_DIR/ran\"\n")
	if code, err := Run(context.Background(), toolkitOptions(p, "SAGEMAKER_PROGRAM=train.sh")); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}

	// No code: the s3:// URI is downloaded and extracted, signed for the
	// job's region. The endpoint is a local server speaking S3's GetObject
	// (runtime/s3get's tests check the signatures themselves).
	tarball := testenv.TarGz(t, map[string]string{"train.sh": "echo from-s3 > \"$SM_MODEL_DIR/ran\"\n"})
	s3 := testenv.NewS3(t, map[string][]byte{"/bucket/job/source/sourcedir.tar.gz": tarball})
	s3Env := []string{"S3_ENDPOINT_URL=" + s3.URL, "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "SAGEMAKER_PROGRAM=train.sh"}
	p = setup(t, optml.Hyperparameters{"sagemaker_submit_directory": `"s3://bucket/job/source/sourcedir.tar.gz"`, "sagemaker_region": `"eu-central-1"`}, "", "")
	if code, err := Run(context.Background(), toolkitOptions(p, s3Env...)); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := readFile(t, filepath.Join(p.Model(), "ran")); got != "from-s3\n" {
		t.Errorf("program output = %q", got)
	}
	if auth := s3.Authorizations(); len(auth) != 1 || !strings.Contains(auth[0], "Credential=AKID/") || !strings.Contains(auth[0], "/eu-central-1/s3/aws4_request") {
		t.Errorf("S3 requests' Authorization = %q, want one signed by AKID for eu-central-1", auth)
	}

	// No code and no such object: the job fails with S3's reason.
	p = setup(t, optml.Hyperparameters{"sagemaker_submit_directory": `"s3://bucket/missing.tar.gz"`}, "", "")
	if code, _ := Run(context.Background(), toolkitOptions(p, s3Env...)); code != 1 {
		t.Fatalf("Run = %d, want 1", code)
	}
	if got := readFile(t, p.Failure()); !strings.Contains(got, "sagemaker_submit_directory: downloading s3://bucket/missing.tar.gz: S3 answered 404 NoSuchKey") {
		t.Errorf("failure file = %q", got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "abc": "abc", "a-b_c.d/e:f,g@h%i+j=k": "a-b_c.d/e:f,g@h%i+j=k", "a b": "'a b'", "it's": `'it'"'"'s'`, "$HOME": "'$HOME'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestToolkitStripsLastArgumentQuotes: as the toolkit's cmd[-1].strip('"'),
// the last argument loses the double quotes at its ends, whether the entry
// point is in the code directory or baked into the image; the others keep
// theirs.
func TestToolkitStripsLastArgumentQuotes(t *testing.T) {
	needPython(t)
	script := "import os, sys\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'argv'), 'w').write('\\n'.join(sys.argv[1:]))\n"
	hps := optml.Hyperparameters{"a": `say "hi"`, "z": `"\"quoted\""`}
	for _, inCode := range []bool{true, false} {
		p := setup(t, hps, "", "")
		dir := p.Code()
		if !inCode {
			dir = filepath.Join(p.Root(), "program")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "train.py"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		opts := toolkitOptions(p, "SAGEMAKER_PROGRAM=train.py")
		opts.Dir = dir
		if code, err := Run(context.Background(), opts); code != 0 || err != nil {
			t.Fatalf("in code dir %v: Run = %d, %v", inCode, code, err)
		}
		if got, want := readFile(t, filepath.Join(p.Model(), "argv")), "-a\nsay \"hi\"\n-z\nquoted"; got != want {
			t.Errorf("in code dir %v: argv = %q, want %q", inCode, got, want)
		}
	}
}
