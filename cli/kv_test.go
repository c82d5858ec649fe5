package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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
