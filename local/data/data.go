// Package data moves sagekit local's data between the places a SageMaker
// request names (file:// and s3:// URIs) and directories on this machine:
// training channels and model artifacts in, model.tar.gz out. S3 goes
// through the AWS SDK's client, configured as the AWS CLI is
// (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for an S3-compatible server,
// AWS_REGION, the usual credential chain).
package data

import (
	"context"

	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Location is a parsed file:// or s3:// URI.
type Location struct {
	// Scheme is "file" or "s3".
	Scheme string
	// Path is the local path (file) or the key or prefix (s3).
	Path string
	// Bucket is the S3 bucket.
	Bucket string
}

// Parse reads a file:// or s3:// URI. A plain absolute path is taken as
// file://.
func Parse(uri string) (Location, error) {
	if strings.HasPrefix(uri, "/") {
		return Location{Scheme: "file", Path: filepath.Clean(uri)}, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return Location{}, fmt.Errorf("%q is not a URI: %w", uri, err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("%q: a file:// URI names a path on this machine (file:///abs/path)", uri)
		}
		if p == "" || !filepath.IsAbs(p) {
			return Location{}, fmt.Errorf("%q: want an absolute path, file:///abs/path", uri)
		}
		return Location{Scheme: "file", Path: filepath.Clean(p)}, nil
	case "s3":
		if u.Host == "" {
			return Location{}, fmt.Errorf("%q: want s3://bucket/key", uri)
		}
		return Location{Scheme: "s3", Bucket: u.Host, Path: strings.TrimPrefix(u.Path, "/")}, nil
	}
	return Location{}, fmt.Errorf("%q: sagekit local reads and writes file:// and s3:// URIs only", uri)
}

// String is the URI.
func (l Location) String() string {
	if l.Scheme == "s3" {
		return "s3://" + l.Bucket + "/" + l.Path
	}
	return "file://" + l.Path
}

// Join appends elements to the location's path.
func (l Location) Join(elem ...string) Location {
	if l.Scheme == "s3" {
		l.Path = strings.TrimPrefix(path.Join(append([]string{l.Path}, elem...)...), "/")
		return l
	}
	l.Path = filepath.Join(append([]string{l.Path}, elem...)...)
	return l
}

// Mover copies data in and out. The zero value is ready; the S3 client is
// made on first use.
type Mover struct {
	once sync.Once
	s3   *s3.Client
	err  error
}

func (m *Mover) client(ctx context.Context) (*s3.Client, error) {
	m.once.Do(func() {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			m.err = fmt.Errorf("configuring the S3 client: %w", err)
			return
		}
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		custom := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
		m.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
			// S3-compatible servers on this machine have no bucket
			// subdomains.
			o.UsePathStyle = custom
			// S3-compatible servers often send no checksum; the SDK
			// would log that on every download.
			o.DisableLogOutputChecksumValidationSkipped = true
		})
	})
	return m.s3, m.err
}

// Dir makes the data at loc available as a directory: a file:// directory
// is used in place; a file:// file, or an s3:// prefix (every object under
// it, keys relative to it), is copied into scratch. It returns the
// directory.
func (m *Mover) Dir(ctx context.Context, loc Location, scratch string) (string, error) {
	if loc.Scheme == "file" {
		fi, err := os.Stat(loc.Path)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", loc, err)
		}
		if fi.IsDir() {
			return loc.Path, nil
		}
		if err := os.MkdirAll(scratch, 0o755); err != nil {
			return "", fmt.Errorf("copying %s: %w", loc, err)
		}
		return scratch, copyFile(loc.Path, filepath.Join(scratch, filepath.Base(loc.Path)))
	}
	c, err := m.client(ctx)
	if err != nil {
		return "", err
	}
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(loc.Path)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing %s: %w", loc, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel := strings.TrimPrefix(strings.TrimPrefix(key, loc.Path), "/")
			if rel == "" {
				rel = path.Base(key)
			}
			if strings.HasSuffix(key, "/") || !filepath.IsLocal(filepath.FromSlash(rel)) {
				continue
			}
			if err := m.get(ctx, c, loc.Bucket, key, filepath.Join(scratch, filepath.FromSlash(rel))); err != nil {
				return "", err
			}
			n++
		}
	}
	if n == 0 {
		return "", fmt.Errorf("reading %s: no objects under that prefix", loc)
	}
	return scratch, nil
}

// File makes the object or file at loc available as a local file, copying
// an S3 object to dst; it returns the file's path.
func (m *Mover) File(ctx context.Context, loc Location, dst string) (string, error) {
	if loc.Scheme == "file" {
		if _, err := os.Stat(loc.Path); err != nil {
			return "", fmt.Errorf("reading %s: %w", loc, err)
		}
		return loc.Path, nil
	}
	c, err := m.client(ctx)
	if err != nil {
		return "", err
	}
	return dst, m.get(ctx, c, loc.Bucket, loc.Path, dst)
}

func (m *Mover) get(ctx context.Context, c *s3.Client, bucket, key, dst string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("downloading s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	return writeAtomic(dst, out.Body)
}

// Put stores the local file src at loc (a file path or an S3 key).
func (m *Mover) Put(ctx context.Context, src string, loc Location) error {
	if loc.Scheme == "file" {
		if err := os.MkdirAll(filepath.Dir(loc.Path), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", loc, err)
		}
		return copyFile(src, loc.Path)
	}
	c, err := m.client(ctx)
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", src, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("uploading %s: %w", src, err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Path), Body: f, ContentLength: aws.Int64(fi.Size())}); err != nil {
		return fmt.Errorf("uploading %s: %w", loc, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer f.Close()
	return writeAtomic(dst, f)
}

// writeAtomic writes r to a temporary file beside dst, then renames it.
func writeAtomic(dst string, r io.Reader) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}
