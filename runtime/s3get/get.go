package s3get

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sagekit/sagekit/internal/redact"
)

// Config says where and as whom objects are fetched.
type Config struct {
	// Region is the bucket's region, or a guess S3 corrects: default
	// us-east-1.
	Region string
	// Endpoint, when set, receives path-style requests instead of Amazon
	// S3 (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL): an S3-compatible
	// store, a VPC endpoint, a test server.
	Endpoint string
	// Lookup reads the environment the credentials are found in; default
	// os.Getenv.
	Lookup func(string) string
	// Client sends the requests; default a client with a 30 s response
	// header timeout.
	Client *http.Client
	// container and imds are the credential services' endpoints; tests
	// point them elsewhere.
	container, imds string
}

// The AWS SDKs' environment variables that FromEnv reads.
const (
	EnvRegion        = "AWS_REGION"
	EnvDefaultRegion = "AWS_DEFAULT_REGION"
	EnvEndpointS3    = "AWS_ENDPOINT_URL_S3"
	EnvEndpoint      = "AWS_ENDPOINT_URL"
)

// FromEnv is the Config the AWS SDKs would use in an environment read by
// lookup: AWS_REGION, else AWS_DEFAULT_REGION; AWS_ENDPOINT_URL_S3, else
// AWS_ENDPOINT_URL.
func FromEnv(lookup func(string) string) Config {
	c := Config{Lookup: lookup, Region: lookup(EnvRegion), Endpoint: lookup(EnvEndpointS3)}
	if c.Region == "" {
		c.Region = lookup(EnvDefaultRegion)
	}
	if c.Endpoint == "" {
		c.Endpoint = lookup(EnvEndpoint)
	}
	return c
}

// ParseURI splits s3://bucket/key.
func ParseURI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URI", uri)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("%q names no object: want s3://bucket/key", uri)
	}
	return bucket, key, nil
}

// Error is S3's answer to a request it refused.
type Error struct {
	Status  int
	Code    string // NoSuchKey, AccessDenied, ...
	Message string
	// BucketRegion is the bucket's region when S3 names it
	// (x-amz-bucket-region): a request signed for another is refused.
	BucketRegion string
}

func (e *Error) Error() string {
	msg := e.Code
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return fmt.Sprintf("S3 answered %d %s", e.Status, msg)
}

// attempts bounds the tries of one GET on connection errors and 5xx.
const attempts = 3

// Download writes the object at uri (s3://bucket/key) to the file dst,
// through a temporary file in dst's directory renamed into place, so dst
// is either whole or absent.
func (c Config) Download(ctx context.Context, uri, dst string) (err error) {
	bucket, key, err := ParseURI(uri)
	if err != nil {
		return err
	}
	c = c.withDefaults()
	// An error may quote what a server sent back, an echo of the request
	// included: it leaves scrubbed of the credentials.
	defer func() { err = redact.Error(err) }()
	creds, err := credentialSource{lookup: c.Lookup, client: c.Client, container: c.container, imds: c.imds}.find(ctx)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", uri, err)
	}
	redact.Add(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return fmt.Errorf("downloading %s: %w", uri, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	region, redirected := c.Region, false
	for failures := 0; ; {
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		err := c.get(ctx, creds, region, bucket, key, tmp)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("downloading %s: %w", uri, ctx.Err())
		}
		var se *Error
		if errors.As(err, &se) {
			// The bucket lives elsewhere: S3 says where, and the request
			// is signed again for that region, once.
			if se.BucketRegion != "" && se.BucketRegion != region && !redirected {
				region, redirected = se.BucketRegion, true
				continue
			}
			if se.Status < 500 {
				return fmt.Errorf("downloading %s: %w", uri, err)
			}
		}
		if failures++; failures == attempts {
			return fmt.Errorf("downloading %s: %w", uri, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("downloading %s: %w", uri, ctx.Err())
		case <-time.After(time.Duration(failures) * 250 * time.Millisecond):
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Lookup == nil {
		c.Lookup = os.Getenv
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
		}}
	}
	client := *c.Client
	client.CheckRedirect = sameHost
	c.Client = &client
	if c.container == "" {
		c.container = containerHost
	}
	if c.imds == "" {
		c.imds = imdsEndpoint
	}
	return c
}

// sameHost follows a redirect only to the host the request was signed
// for. net/http drops Authorization on a redirect to another host but keeps
// X-Amz-Security-Token and the other X-Amz-* headers; such a redirect
// (S3's 301 and 307 to the bucket's region) is answered instead, and
// Download signs again for the region S3 names.
func sameHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return http.ErrUseLastResponse
	}
	return nil
}

// objectURL is the URL of bucket/key: path-style on a custom endpoint and
// for bucket names with dots (which no wildcard certificate covers),
// virtual-hosted otherwise.
func (c Config) objectURL(region, bucket, key string) (*url.URL, error) {
	var base *url.URL
	path := "/" + bucket + "/" + key
	if c.Endpoint != "" {
		u, err := url.Parse(strings.TrimSuffix(c.Endpoint, "/"))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("the S3 endpoint %q is not a URL like https://host[:port]", c.Endpoint)
		}
		base = u
		path = u.Path + path
	} else {
		suffix := "amazonaws.com"
		if strings.HasPrefix(region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		host := "s3." + region + "." + suffix
		if !strings.Contains(bucket, ".") {
			host, path = bucket+"."+host, "/"+key
		}
		base = &url.URL{Scheme: "https", Host: host}
	}
	return &url.URL{Scheme: base.Scheme, Host: base.Host, Path: path, RawPath: escapePath(path)}, nil
}

// get sends one signed GET and copies a 200's body to w.
func (c Config) get(ctx context.Context, creds Credentials, region, bucket, key string, w io.Writer) error {
	u, err := c.objectURL(region, bucket, key)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	sign(req, creds, region, time.Now())
	resp, err := c.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("reading the object: %w", err)
		}
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &Error{Status: resp.StatusCode, Code: element(body, "Code"), Message: element(body, "Message"),
		BucketRegion: resp.Header.Get("X-Amz-Bucket-Region")}
}

// xmlText undoes the escapes XML text may hold.
var xmlText = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&")

// element is the text of the first <name> element of S3's error document,
// a flat one, read without encoding/xml, which would add about 100 KB to
// the runtime binary.
func element(doc []byte, name string) string {
	s := string(doc)
	i := strings.Index(s, "<"+name+">")
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+2:]
	j := strings.Index(s, "</"+name+">")
	if j < 0 {
		return ""
	}
	return xmlText.Replace(s[:j])
}
