package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/optml"
)

func TestParseEnvAndLabels(t *testing.T) {
	tests := []struct {
		name    string
		parse   func([]string) (map[string]string, error)
		in      []string
		want    map[string]string
		wantErr string
	}{
		{name: "no env is nil", parse: parseEnv, in: nil, want: nil},
		{name: "env", parse: parseEnv, in: []string{"A=1", "B_2=x=y", "A=3"}, want: map[string]string{"A": "3", "B_2": "x=y"}},
		{name: "env empty value", parse: parseEnv, in: []string{"A="}, want: map[string]string{"A": ""}},
		{name: "env name starts with a digit", parse: parseEnv, in: []string{"1A=x"}, wantErr: `--env "1A=x": want NAME=VALUE with NAME matching [a-zA-Z_][a-zA-Z0-9_]*`},
		{name: "env without =", parse: parseEnv, in: []string{"A"}, wantErr: `--env "A": want NAME=VALUE with NAME matching [a-zA-Z_][a-zA-Z0-9_]*`},
		{name: "no label is nil", parse: parseLabels, in: []string{}, want: nil},
		{name: "labels allow dots and dashes", parse: parseLabels, in: []string{"team.x-y=a b"}, want: map[string]string{"team.x-y": "a b"}},
		{name: "label without key", parse: parseLabels, in: []string{"=v"}, wantErr: `--label "=v": want KEY=VALUE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" || (tt.want == nil) != (got == nil) {
				t.Errorf("parse(%q) (-want +got):\n%s (nil: want %v, got %v)", tt.in, d, tt.want == nil, got == nil)
			}
		})
	}
}

func TestReadHyperparameters(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hp.json")
	os.WriteFile(good, []byte(`{"epochs": 3, "lr": "0.1", "layers": [1, 2], "on": true}`), 0o644)
	got, err := readHyperparameters(good)
	if err != nil {
		t.Fatal(err)
	}
	want := optml.Hyperparameters{"epochs": "3", "lr": "0.1", "layers": "[1,2]", "on": "true"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("readHyperparameters (-want +got):\n%s", d)
	}
	bad := filepath.Join(dir, "list.json")
	os.WriteFile(bad, []byte(`[1, 2]`), 0o644)
	if _, err := readHyperparameters(bad); err == nil || !strings.Contains(err.Error(), "--hyperparameters") || !strings.Contains(err.Error(), "JSON object") {
		t.Errorf("readHyperparameters(array) error = %v, want one naming --hyperparameters and a JSON object", err)
	}
}
