package push_test

import (
	"testing"

	"github.com/sagekit/sagekit/image/push"
)

func TestECRRegistry(t *testing.T) {
	tests := []struct {
		ref        string
		wantECR    bool
		wantRegion string
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:v1", true, "eu-west-1"},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/m", true, "us-gov-west-1"},
		{"ghcr.io/me/model:v1", false, ""},
		{"not a reference", false, ""},
	}
	for _, tt := range tests {
		reg, ok := push.ECRRegistry(tt.ref)
		if ok != tt.wantECR || reg.Region != tt.wantRegion {
			t.Errorf("ECRRegistry(%q) = %+v, %v, want region %q, %v", tt.ref, reg, ok, tt.wantRegion, tt.wantECR)
		}
	}
}

func TestDestinationResolve(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	tests := []struct {
		name     string
		d        push.Destination
		wantRef  string
		wantOpts int
		wantErr  bool
	}{
		{name: "other registry needs no option", d: push.Destination{Ref: "ghcr.io/me/m:v1"}, wantRef: "ghcr.io/me/m:v1"},
		{name: "ECR reference gets AWS credentials", d: push.Destination{Ref: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:v1"}, wantRef: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:v1", wantOpts: 1},
		{name: "both", d: push.Destination{Ref: "ghcr.io/me/m", ECRRepo: "m"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, opts, err := tt.d.Resolve(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Resolve() error = %v, want error %v", err, tt.wantErr)
			}
			if ref != tt.wantRef || len(opts) != tt.wantOpts {
				t.Errorf("Resolve() = %q with %d options, want %q with %d", ref, len(opts), tt.wantRef, tt.wantOpts)
			}
		})
	}
}
