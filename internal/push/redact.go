package push

import (
	"encoding/base64"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// redactor removes credentials from text that may reach a user: the
// secrets it was told about (with their base64 forms, as they appear in
// Basic credentials and ECR tokens), any Authorization value, and signed
// URL parameters such as those of the S3 redirects ECR answers with.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

const redacted = "[redacted]"

var (
	authValue   = regexp.MustCompile(`(?i)\b(basic|bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}`)
	headerValue = regexp.MustCompile(`(?i)(authorization|x-amz-security-token|x-registry-auth)(["']?\s*[:=]\s*["']?)[^"'\s,;]+(\s+[^"'\s,;]+)?`)
	signedParam = regexp.MustCompile(`(?i)\b(x-amz-signature|x-amz-security-token|x-amz-credential|signature|sig|token|access_token|password|_state)=[^&\s"']+`)
)

// add registers secrets; empty and very short strings are ignored, since
// replacing them would garble every message.
func (r *redactor) add(user string, secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) < 6 {
			continue
		}
		forms := []string{s}
		for _, raw := range []string{s, user + ":" + s} {
			forms = append(forms,
				base64.StdEncoding.EncodeToString([]byte(raw)),
				base64.RawStdEncoding.EncodeToString([]byte(raw)),
				base64.URLEncoding.EncodeToString([]byte(raw)),
				base64.RawURLEncoding.EncodeToString([]byte(raw)))
		}
		r.secrets = append(r.secrets, forms...)
	}
}

// addAuth registers every secret of an authn configuration.
func (r *redactor) addAuth(c *authn.AuthConfig) {
	if c == nil {
		return
	}
	r.add(c.Username, c.Password, c.Auth, c.IdentityToken, c.RegistryToken)
}

func (r *redactor) string(s string) string {
	r.mu.Lock()
	secrets := append([]string(nil), r.secrets...)
	r.mu.Unlock()
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	s = headerValue.ReplaceAllString(s, "${1}${2}"+redacted)
	s = authValue.ReplaceAllString(s, "${1}${2}"+redacted)
	return signedParam.ReplaceAllString(s, "${1}="+redacted)
}

// error returns err with its message scrubbed. It still unwraps to err, so
// errors.Is and errors.As work; print the returned error, not what it wraps.
func (r *redactor) error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.string(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
