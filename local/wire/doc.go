// Package wire is the wire format of the AWS services sagekit local speaks:
// JSON 1.1 requests routed by X-Amz-Target, SigV4 headers (parsed, any
// credentials accepted), errors as botocore reads them, and validation of
// request bodies against the services' own models (required members,
// enums, lengths, ranges and patterns), trimmed from botocore's service
// definitions into models/ and embedded.
package wire
