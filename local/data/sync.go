package data

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Fetch copies everything under loc (a file:// directory or an s3://
// prefix) into dst, keeping relative paths; nothing there is not an
// error. It returns the relative paths (slash-separated) it copied.
func (m *Mover) Fetch(ctx context.Context, loc Location, dst string) ([]string, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, fmt.Errorf("copying %s: %w", loc, err)
	}
	var got []string
	if loc.Scheme == "file" {
		err := filepath.WalkDir(loc.Path, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == loc.Path {
				return fs.SkipAll
			}
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(loc.Path, p)
			got = append(got, filepath.ToSlash(rel))
			return copyFile(p, filepath.Join(dst, rel))
		})
		return got, err
	}
	c, err := m.client(ctx)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(loc.Path, "/") + "/"
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return got, fmt.Errorf("listing %s: %w", loc, err)
		}
		for _, o := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if rel == "" || strings.HasSuffix(rel, "/") || !filepath.IsLocal(filepath.FromSlash(rel)) {
				continue
			}
			if err := m.get(ctx, c, loc.Bucket, aws.ToString(o.Key), filepath.Join(dst, filepath.FromSlash(rel))); err != nil {
				return got, err
			}
			got = append(got, rel)
		}
	}
	return got, nil
}

// Delete removes the file or object at loc; a missing one is not an
// error.
func (m *Mover) Delete(ctx context.Context, loc Location) error {
	if loc.Scheme == "file" {
		if err := os.Remove(loc.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("deleting %s: %w", loc, err)
		}
		return nil
	}
	c, err := m.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Path)}); err != nil {
		return fmt.Errorf("deleting %s: %w", loc, err)
	}
	return nil
}

// Mirror keeps loc a copy of a local directory, as SageMaker keeps
// CheckpointConfig.S3Uri a copy of the checkpoint directory: each Sync
// uploads the files that are new or changed since the last, and deletes
// at loc the files deleted locally.
type Mirror struct {
	m    *Mover
	dir  string
	loc  Location
	seen map[string]stamp
}

type stamp struct {
	size int64
	mod  time.Time
}

// Mirror returns a Mirror of dir at loc; fetched are the files already
// at both places (Fetch's answer), which are uploaded again only once
// they change.
func (m *Mover) Mirror(dir string, loc Location, fetched []string) *Mirror {
	mi := &Mirror{m: m, dir: dir, loc: loc, seen: map[string]stamp{}}
	for _, rel := range fetched {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err == nil {
			mi.seen[rel] = stamp{fi.Size(), fi.ModTime()}
		}
	}
	return mi
}

// Sync brings loc up to date with the directory.
func (mi *Mirror) Sync(ctx context.Context) error {
	now := map[string]stamp{}
	var errs []error
	err := filepath.WalkDir(mi.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.Contains(d.Name(), ".tmp-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			// Deleted while walking: the next Sync deletes it at loc.
			return nil
		}
		rel, _ := filepath.Rel(mi.dir, p)
		rel = filepath.ToSlash(rel)
		st := stamp{fi.Size(), fi.ModTime()}
		now[rel] = st
		if old, ok := mi.seen[rel]; ok && old == st {
			return nil
		}
		if err := mi.m.Put(ctx, p, mi.loc.Join(splitSlash(rel)...)); err != nil {
			errs = append(errs, err)
			delete(now, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", mi.dir, err)
	}
	for rel := range mi.seen {
		if _, ok := now[rel]; !ok {
			if err := mi.m.Delete(ctx, mi.loc.Join(splitSlash(rel)...)); err != nil {
				errs = append(errs, err)
				now[rel] = mi.seen[rel]
			}
		}
	}
	mi.seen = now
	return errors.Join(errs...)
}

func splitSlash(rel string) []string { return strings.Split(path.Clean(rel), "/") }
