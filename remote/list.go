package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// Kind is what a name designates.
type Kind string

// Kinds of resources.
const (
	KindTrainingJob  Kind = "training job"
	KindTransformJob Kind = "transform job"
	KindEndpoint     Kind = "endpoint"
)

// Resource is one line of a listing.
type Resource struct {
	Kind    Kind
	Name    string
	Status  string
	Created time.Time
}

// List returns the most recent training jobs, transform jobs and
// endpoints (up to max of each), newest first. A kind that cannot be
// listed (a server that does not serve it) leaves the others listed: the
// error says which failed, and is nil when all were listed.
func (c *Client) List(ctx context.Context, max int32) ([]Resource, error) {
	var out []Resource
	var errs []error
	tj, err := c.sm.ListTrainingJobs(ctx, &sagemaker.ListTrainingJobsInput{MaxResults: aws.Int32(max), SortBy: types.SortByCreationTime, SortOrder: types.SortOrderDescending})
	if err != nil {
		errs = append(errs, Explain("listing training jobs", err))
	} else {
		for _, j := range tj.TrainingJobSummaries {
			out = append(out, Resource{Kind: KindTrainingJob, Name: aws.ToString(j.TrainingJobName), Status: string(j.TrainingJobStatus), Created: aws.ToTime(j.CreationTime)})
		}
	}
	xj, err := c.sm.ListTransformJobs(ctx, &sagemaker.ListTransformJobsInput{MaxResults: aws.Int32(max), SortBy: types.SortByCreationTime, SortOrder: types.SortOrderDescending})
	if err != nil {
		errs = append(errs, Explain("listing transform jobs", err))
	} else {
		for _, j := range xj.TransformJobSummaries {
			out = append(out, Resource{Kind: KindTransformJob, Name: aws.ToString(j.TransformJobName), Status: string(j.TransformJobStatus), Created: aws.ToTime(j.CreationTime)})
		}
	}
	ep, err := c.sm.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{MaxResults: aws.Int32(max), SortBy: types.EndpointSortKeyCreationTime, SortOrder: types.OrderKeyDescending})
	if err != nil {
		errs = append(errs, Explain("listing endpoints", err))
	} else {
		for _, e := range ep.Endpoints {
			out = append(out, Resource{Kind: KindEndpoint, Name: aws.ToString(e.EndpointName), Status: string(e.EndpointStatus), Created: aws.ToTime(e.CreationTime)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, errors.Join(errs...)
}

// Find says what name designates: a training job, a transform job or an
// endpoint, tried in that order. A kind the server cannot describe is
// passed over; a name found nowhere is an error wrapping ErrNotFound, or
// the first such failure.
func (c *Client) Find(ctx context.Context, name string) (Kind, error) {
	var first error
	try := func(k Kind, describe func() error) bool {
		err := describe()
		if err != nil && !errors.Is(err, ErrNotFound) && first == nil {
			first = err
		}
		return err == nil
	}
	switch {
	case try(KindTrainingJob, func() error { _, err := c.DescribeTrainingJob(ctx, name); return err }):
		return KindTrainingJob, nil
	case try(KindTransformJob, func() error { _, err := c.DescribeTransformJob(ctx, name); return err }):
		return KindTransformJob, nil
	case try(KindEndpoint, func() error { _, err := c.DescribeEndpoint(ctx, name); return err }):
		return KindEndpoint, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	err := fmt.Errorf("%s is no training job, transform job or endpoint in %s ('sagekit ls' lists them): %w", name, c.region, ErrNotFound)
	if first != nil {
		err = fmt.Errorf("%w (and not everything could be checked: %v)", err, first)
	}
	return "", err
}

// Download copies the S3 object uri to dir/base(uri) (through a temporary
// file renamed at the end) and returns the path. A server other than AWS
// may answer with a file:/// URI of this machine, copied the same way.
func (c *Client) Download(ctx context.Context, uri, dir string) (string, error) {
	if p, ok := strings.CutPrefix(uri, "file://"); ok && c.custom {
		return copyFile(p, dir)
	}
	rest, ok := strings.CutPrefix(uri, "s3://")
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", fmt.Errorf("downloading %q: not an S3 object URI", uri)
	}
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", Explain("downloading "+uri, err)
	}
	defer out.Body.Close()
	return writeInto(dir, filepath.Base(key), out.Body, uri)
}

// writeInto writes r to dir/name through a temporary file renamed at the
// end.
func writeInto(dir, name string, r io.Reader, uri string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating --download directory: %w", err)
	}
	dst := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", uri, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return "", fmt.Errorf("downloading %s: %w", uri, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("downloading %s: %w", uri, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("downloading %s: %w", uri, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("downloading %s: %w", uri, err)
	}
	return dst, nil
}

// copyFile copies a model a server left on this machine ('sagekit local'
// with a file:/// output) into dir.
func copyFile(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", src, err)
	}
	defer in.Close()
	return writeInto(dir, filepath.Base(src), in, "file://"+src)
}

// Upload copies every file under dir to the S3 prefix uri (keys relative
// to dir, joined with "/"), for channels and transform inputs.
func (c *Client) Upload(ctx context.Context, dir, uri string) error {
	rest, ok := strings.CutPrefix(uri, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return fmt.Errorf("uploading %s to %q: not an S3 URI", dir, uri)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if prefix != "" {
			key = prefix + "/" + key
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("uploading %s: %w", p, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("uploading %s: %w", p, err)
		}
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f, ContentLength: aws.Int64(fi.Size())})
		return Explain(fmt.Sprintf("uploading %s to s3://%s/%s", p, bucket, key), err)
	})
}
