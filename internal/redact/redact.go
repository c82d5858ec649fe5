package redact

import (
	"encoding/base64"
	"io"
	"log"
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces what is removed.
const Redacted = "[redacted]"

// Redactor holds the secrets to remove. The zero value is ready to use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	seen    map[string]bool
}

var (
	authValue   = regexp.MustCompile(`(?i)\b(basic|bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}`)
	headerValue = regexp.MustCompile(`(?i)(authorization|x-amz-security-token|x-registry-auth|x-aws-ec2-metadata-token|aws_secret_access_key|aws_session_token|aws_container_authorization_token)(["']?\s*[:=]\s*["']?)[^"'\s,;]+(\s+[^"'\s,;]+)?`)
	signedParam = regexp.MustCompile(`(?i)\b(x-amz-signature|x-amz-security-token|x-amz-credential|signature|sig|token|access_token|password|_state)=[^&\s"',]+`)
	jsonSecret  = regexp.MustCompile(`(?i)("(?:secretaccesskey|secret_access_key|sessiontoken|session_token|token|password|secret|accesstoken|access_token|identitytoken|registrytoken|auth|authorizationtoken)"\s*:\s*")[^"]*`)
	urlPassword = regexp.MustCompile(`(://[^/\s:@"']+:)[^@\s/"']+@`)
)

// Add registers secrets; empty and very short strings are ignored, since
// replacing them would garble every message. user, when set, is the name
// that goes with them in Basic credentials.
func (r *Redactor) Add(user string, secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	for _, s := range secrets {
		if len(s) < 6 || r.seen[user+"\x00"+s] {
			continue
		}
		r.seen[user+"\x00"+s] = true
		forms := []string{s}
		raws := []string{s}
		if user != "" {
			raws = append(raws, user+":"+s)
		}
		for _, raw := range raws {
			forms = append(forms,
				base64.StdEncoding.EncodeToString([]byte(raw)),
				base64.RawStdEncoding.EncodeToString([]byte(raw)),
				base64.URLEncoding.EncodeToString([]byte(raw)),
				base64.RawURLEncoding.EncodeToString([]byte(raw)))
		}
		r.secrets = append(r.secrets, forms...)
	}
}

// String returns s with every known secret and credential-shaped value
// replaced by [redacted].
func (r *Redactor) String(s string) string {
	r.mu.RLock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	r.mu.RUnlock()
	s = headerValue.ReplaceAllString(s, "${1}${2}"+Redacted)
	s = authValue.ReplaceAllString(s, "${1}${2}"+Redacted)
	s = signedParam.ReplaceAllString(s, "${1}="+Redacted)
	s = jsonSecret.ReplaceAllString(s, "${1}"+Redacted)
	return urlPassword.ReplaceAllString(s, "${1}"+Redacted+"@")
}

// Error returns err with its message scrubbed. It still unwraps to err, so
// errors.Is and errors.As work; print the returned error, not what it wraps.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	if re, ok := err.(*redactedError); ok && re.r == r {
		return err
	}
	return &redactedError{msg: r.String(err.Error()), err: err, r: r}
}

type redactedError struct {
	msg string
	err error
	r   *Redactor
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Writer returns a writer that scrubs what is written with r before
// passing it to w. Each Write is scrubbed on its own: a log.Logger writes
// a line at a time.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &writer{r: r, w: w} }

type writer struct {
	r *Redactor
	w io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.r.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// process is the process-wide Redactor: what one part of a binary learns
// (the credentials it found) is removed from what any other part prints.
var process Redactor

// Add registers secrets with the process-wide Redactor.
func Add(user string, secrets ...string) { process.Add(user, secrets...) }

// String scrubs s with the process-wide Redactor.
func String(s string) string { return process.String(s) }

// Error scrubs err's message with the process-wide Redactor.
func Error(err error) error { return process.Error(err) }

// Writer scrubs what is written to w with the process-wide Redactor.
func Writer(w io.Writer) io.Writer { return process.Writer(w) }

// Logger returns a *log.Logger writing to w through the process-wide
// Redactor, for an http.Server's or a proxy's ErrorLog.
func Logger(w io.Writer, prefix string, flag int) *log.Logger {
	return log.New(Writer(w), prefix, flag)
}

// InstallStd sends the standard library's log through the process-wide
// Redactor, keeping its current destination. Call it first in main.
func InstallStd() { log.SetOutput(Writer(log.Writer())) }
