// Package s3get downloads objects from Amazon S3 with the standard library
// alone, so that the runtime inside images stays small: a SigV4-signed GET
// per object, credentials found as the AWS SDKs find them on SageMaker
// (environment variables, the container credentials endpoint, the EC2
// instance metadata service), the region from the environment, and the
// bucket's own region when S3 redirects.
package s3get
