package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/internal/doctor"
	"github.com/sagekit/sagekit/internal/testenv"
)

// TestMissingThingsSayTheFix: every error about a missing image, base or
// engine names the one command that fixes it.
func TestMissingThingsSayTheFix(t *testing.T) {
	testenv.Docker(t)
	img := "sagekit-no-such-image-" + randomID() + ":v1"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM sagekit/nosuchbase:bookworm\nCOPY Dockerfile /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"test image", []string{"test", img}, "build it with `sagekit build -t " + img + " DIR`"},
		{"push image", []string{"push", img, "example.com/a:b"}, "build it with `sagekit build -t " + img + " DIR`"},
		{"run image", []string{"run", "train", img, "-o", filepath.Join(dir, "out")}, "build it with `sagekit build -t " + img + " DIR`"},
		{"build base", []string{"build", dir}, "pull it with `docker pull sagekit/nosuchbase:bookworm`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := execCLI(t, tt.args...)
			if code != ExitFailed || !strings.Contains(stderr, tt.want) {
				t.Errorf("sagekit %v = %d, stderr %q; want 1 and %q", tt.args, code, stderr, tt.want)
			}
		})
	}
	t.Run("no engine", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no.sock"))
		for _, args := range [][]string{{"test", img}, {"run", "train", img, "-o", filepath.Join(dir, "out")}, {"build", dir}, {"push", img, "example.com/a:b"}} {
			code, _, stderr := execCLI(t, args...)
			if code != ExitFailed || !strings.Contains(stderr, "sudo systemctl start docker") {
				t.Errorf("sagekit %v without an engine = %d, stderr %q; want 1 and the command that starts it", args, code, stderr)
			}
		}
	})
}

func TestDoctor(t *testing.T) {
	testenv.Docker(t)
	// Credentials from the environment: found, and never printed.
	const secret = "doctorSecretKeyValue0123456789abcdefghij"
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIADOCTORTESTKEY000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_REGION", "eu-west-3")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	code, out, stderr := execCLI(t, "doctor", "--json")
	var checks []doctor.Check
	if err := json.Unmarshal([]byte(out), &checks); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	byName := map[string]doctor.Check{}
	for _, c := range checks {
		byName[c.Name] = c
		if c.Status != doctor.OK && c.Fix == "" && !strings.HasPrefix(c.Detail, "not checked") {
			t.Errorf("%s is missing and names no fix", c.Name)
		}
	}
	for _, n := range []string{"Docker Engine", "BuildKit", "base image sagekit/base:bookworm", "base image sagekit/python:bookworm", "base image sagekit/cuda:bookworm", "GPU runtime", "AWS credentials", "AWS region"} {
		if _, ok := byName[n]; !ok {
			t.Errorf("doctor does not check %s", n)
		}
	}
	if c := byName["Docker Engine"]; c.Status != doctor.OK {
		t.Errorf("Docker Engine = %+v, want ok", c)
	}
	if c := byName["AWS credentials"]; c.Status != doctor.OK || !strings.Contains(c.Detail, "EnvConfigCredentials") {
		t.Errorf("AWS credentials = %+v, want ok from the environment", c)
	}
	if c := byName["AWS region"]; c.Detail != "eu-west-3" {
		t.Errorf("AWS region = %+v", c)
	}
	if wantCode := map[bool]int{true: 1, false: 0}[doctor.Failed(checks)]; code != wantCode {
		t.Errorf("exit %d, want %d (required missing: %v)", code, wantCode, doctor.Failed(checks))
	}
	_, text, _ := execCLI(t, "doctor")
	for _, s := range []string{out, stderr, text} {
		if strings.Contains(s, secret) || strings.Contains(s, "AKIADOCTORTESTKEY000") {
			t.Fatalf("doctor printed a credential")
		}
	}

	// Nothing configured: the fixes are printed, and a missing engine
	// fails the run.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no.sock"))
	code, text, _ = execCLI(t, "doctor")
	for _, want := range []string{"Docker Engine", "MISSING", "to fix:", "sudo systemctl start docker", "AWS credentials: aws configure", "AWS region: aws configure set region"} {
		if !strings.Contains(text, want) {
			t.Errorf("doctor without engine or AWS lacks %q:\n%s", want, text)
		}
	}
	if code != ExitFailed {
		t.Errorf("doctor without an engine exited %d, want 1", code)
	}
}
