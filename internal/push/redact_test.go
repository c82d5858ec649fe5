package push

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

func TestRedactor(t *testing.T) {
	const user, pass = "AWS", "s3cr3t-pa55word-value"
	r := &redactor{}
	r.addAuth(&authn.AuthConfig{Username: user, Password: pass, IdentityToken: "identity-token-value"})
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	tests := []struct{ in, gone string }{
		{"password " + pass + " leaked", pass},
		{"token " + basic, basic},
		{"raw " + base64.RawURLEncoding.EncodeToString([]byte(pass)), base64.RawURLEncoding.EncodeToString([]byte(pass))},
		{"refresh identity-token-value", "identity-token-value"},
		{"Authorization: Basic dW5rbm93bjp1bmtub3duLXNlY3JldA==", "dW5rbm93bjp1bmtub3duLXNlY3JldA=="},
		{`{"authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"}`, "eyJhbGciOiJIUzI1NiJ9"},
		{"GET https://s3.amazonaws.com/b/k?X-Amz-Security-Token=FQoGZXIvYXdzEJr&X-Amz-Signature=abcdef0123", "FQoGZXIvYXdzEJr"},
		{"GET https://s3.amazonaws.com/b/k?X-Amz-Signature=abcdef0123", "abcdef0123"},
	}
	for _, tt := range tests {
		got := r.string(tt.in)
		if strings.Contains(got, tt.gone) || !strings.Contains(got, redacted) {
			t.Errorf("string(%q) = %q, want %q replaced", tt.in, got, tt.gone)
		}
	}
	// Ordinary messages are left alone.
	const plain = "PUT https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/model/manifests/v1: DENIED: not allowed"
	if got := r.string(plain); got != plain {
		t.Errorf("string(%q) = %q, want it unchanged", plain, got)
	}
	// Errors keep their chain.
	sentinel := errors.New("sentinel " + pass)
	err := r.error(sentinel)
	if !errors.Is(err, sentinel) || strings.Contains(err.Error(), pass) {
		t.Errorf("error() = %q, want the secret gone and errors.Is to hold", err)
	}
}
