package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	const user, pass = "AWS", "s3cr3t-pa55word-value"
	var r Redactor
	r.Add(user, pass, "identity-token-value")
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
		// net/http's unsolicited-response line quotes the bytes with %q.
		{`Unsolicited response received on idle HTTP channel starting with "GET /b/k HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef\r\nX-Amz-Security-Token: unknownSessionTok3n\r\n"`, "unknownSessionTok3n"},
		{`Signature=0123456789abcdef`, "0123456789abcdef"},
		{`{"AccessKeyId":"AKID","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","Token":"IQoJb3JpZ2luX2VjE"}`, "wJalrXUtnFEMI/K7MDENG"},
		{`{"AccessKeyId":"AKID","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","Token":"IQoJb3JpZ2luX2VjE"}`, "IQoJb3JpZ2luX2VjE"},
		{"https://user:hunter2secret@registry.example.com/v2/", "hunter2secret"},
		{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG"},
	}
	for _, tt := range tests {
		got := r.String(tt.in)
		if strings.Contains(got, tt.gone) || !strings.Contains(got, Redacted) {
			t.Errorf("String(%q) = %q, want %q replaced", tt.in, got, tt.gone)
		}
	}
	// Ordinary messages are left alone.
	for _, plain := range []string{
		"PUT https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/model/manifests/v1: DENIED: not allowed",
		"getting a metadata token: 403 Forbidden",
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		if got := r.String(plain); got != plain {
			t.Errorf("String(%q) = %q, want it unchanged", plain, got)
		}
	}
	// Errors keep their chain.
	sentinel := errors.New("sentinel " + pass)
	err := r.Error(sentinel)
	if !errors.Is(err, sentinel) || strings.Contains(err.Error(), pass) {
		t.Errorf("Error() = %q, want the secret gone and errors.Is to hold", err)
	}
}

func TestWriter(t *testing.T) {
	Add("", "process-wide-secret-value")
	var buf bytes.Buffer
	l := log.New(Writer(&buf), "", 0)
	l.Printf("Unsolicited response %q", "X-Amz-Security-Token: process-wide-secret-value\r\n")
	if strings.Contains(buf.String(), "process-wide-secret-value") || !strings.Contains(buf.String(), Redacted) {
		t.Errorf("logged %q, want the secret redacted", buf.String())
	}
}
