package main

import (
	"github.com/sagekit/sagekit/runtime/entrypoint"
	"os"
	"strings"
	"testing"
)

// TestTrainToolkitMode: SAGEKIT_TOOLKIT=training (or --toolkit) makes a
// failing program end the launcher with 1 and the toolkit's failure text
// (the command space-joined, no trailing newline, as the toolkit writes it).
func TestTrainToolkitMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{name: "default", code: 3},
		{name: "env", env: []string{entrypoint.EnvToolkit + "=training"}, code: 1},
		{name: "env with inference", env: []string{entrypoint.EnvToolkit + "=inference, training"}, code: 1},
		{name: "env inference only", env: []string{entrypoint.EnvToolkit + "=inference"}, code: 3},
		{name: "flag", args: []string{"--toolkit"}, code: 1},
		{name: "flag off", env: []string{entrypoint.EnvToolkit + "=training"}, args: []string{"--toolkit=false"}, code: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := trainTree(t, "echo 'it broke' >&2\nexit 3\n")
			cmd := trainCmd(t, p, tt.args...)
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if code := exitCode(t, err); code != tt.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.code, out)
			}
			reason, err := os.ReadFile(p.Failure())
			if err != nil {
				t.Fatalf("no failure file: %v", err)
			}
			want := "ExecuteUserScriptError: the training program exited with code 3\n"
			if tt.code == 1 {
				want = "ExecuteUserScriptError:\nExitCode 3\nErrorMessage \"it broke\"\nCommand \"/bin/sh -c ./train.sh --epochs 2 --flag True --lr 0.01 --name abc\""
			}
			if !strings.HasPrefix(string(reason), want) {
				t.Errorf("failure file = %q, want it to begin %q", reason, want)
			}
		})
	}
}
