// Package redact removes credentials from text that may reach a user or a
// log: the secrets it was told about (with their base64 forms, as they
// appear in Basic credentials and ECR tokens), Authorization and AWS
// session-token header values, SigV4 signatures, signed URL parameters,
// passwords in URLs and secret-looking JSON fields.
//
// Both binaries send the standard library's log through Writer, so the
// lines net/http writes itself ("Unsolicited response received on idle
// HTTP channel starting with ...", which quotes what a server sent, such
// as an echo of the request) are scrubbed too. The package uses the
// standard library only: the in-image runtime links it.
package redact
