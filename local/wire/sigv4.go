package wire

import (
	"net/http"
	"strings"
)

// Credential is the scope of a SigV4 Authorization header. sagekit local
// accepts any credentials: it reads the scope only to tell services apart
// and to reject a header that is not SigV4 at all.
type Credential struct {
	AccessKey, Date, Region, Service string
}

// ParseAuth reads the request's SigV4 Authorization header. ok is false
// when there is none; a header that is present but is not SigV4 is an
// IncompleteSignatureException.
func ParseAuth(r *http.Request) (Credential, bool, *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Credential{}, false, nil
	}
	bad := &Error{Code: "IncompleteSignatureException", Status: http.StatusBadRequest,
		Message: "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters of AWS4-HMAC-SHA256"}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != "AWS4-HMAC-SHA256" {
		return Credential{}, true, bad
	}
	var c Credential
	var signed, sig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return Credential{}, true, bad
			}
			c = Credential{AccessKey: f[0], Date: f[1], Region: f[2], Service: f[3]}
		case "SignedHeaders":
			signed = v != ""
		case "Signature":
			sig = v != ""
		}
	}
	if c.Service == "" || !signed || !sig {
		return Credential{}, true, bad
	}
	return c, true, nil
}
