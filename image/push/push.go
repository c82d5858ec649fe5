package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sagekit/sagekit/image/ecr"
	"github.com/sagekit/sagekit/internal/redact"
)

// Result is what a push wrote.
type Result struct {
	// Digest is the manifest (or index) digest in the registry.
	Digest v1.Hash
	// MediaType is the manifest's media type.
	MediaType types.MediaType
	// Repository is the registry host and repository, for example
	// 123456789012.dkr.ecr.us-east-1.amazonaws.com/model.
	Repository string
	// Tag is the tag pushed, or empty for a push by digest.
	Tag string
	// Uploaded and Skipped count the blobs uploaded and those the
	// registry already held.
	Uploaded, Skipped int
	// RepositoryCreated is true when the ECR repository was created.
	RepositoryCreated bool
	// Unchanged is true when the tag of an immutable ECR repository
	// already pointed to Digest, so nothing was sent.
	Unchanged bool
}

// DigestURI is the image URI pinned to the digest, the exact form to give
// CreateModel or CreateTrainingJob: REGISTRY/REPO@sha256:...
func (r *Result) DigestURI() string { return r.Repository + "@" + r.Digest.String() }

// TagURI is the image URI by tag (REGISTRY/REPO:TAG), or the digest URI for
// a push by digest.
func (r *Result) TagURI() string {
	if r.Tag == "" {
		return r.DigestURI()
	}
	return r.Repository + ":" + r.Tag
}

// Image pushes img to dst, a reference such as
// ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG or any OCI registry
// reference (a digest reference must match img's digest).
func Image(ctx context.Context, img v1.Image, dst string, opts ...Option) (*Result, error) {
	return push(ctx, artifact{img: img}, dst, opts)
}

// Index pushes idx, with every image it lists, to dst (see Image).
func Index(ctx context.Context, idx v1.ImageIndex, dst string, opts ...Option) (*Result, error) {
	return push(ctx, artifact{idx: idx}, dst, opts)
}

// artifact is the image or the index being pushed.
type artifact struct {
	img v1.Image
	idx v1.ImageIndex
}

func (a artifact) digest() (v1.Hash, types.MediaType, error) {
	if a.idx != nil {
		d, err := a.idx.Digest()
		if err != nil {
			return v1.Hash{}, "", err
		}
		mt, err := a.idx.MediaType()
		return d, mt, err
	}
	d, err := a.img.Digest()
	if err != nil {
		return v1.Hash{}, "", err
	}
	mt, err := a.img.MediaType()
	return d, mt, err
}

// blobs counts the distinct layers and configs of the artifact.
func (a artifact) blobs() (int, error) {
	seen := map[v1.Hash]bool{}
	var walkImage func(v1.Image) error
	walkImage = func(img v1.Image) error {
		cfg, err := img.ConfigName()
		if err != nil {
			return err
		}
		seen[cfg] = true
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			seen[d] = true
		}
		return nil
	}
	var walkIndex func(v1.ImageIndex) error
	walkIndex = func(idx v1.ImageIndex) error {
		m, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range m.Manifests {
			switch {
			case d.MediaType.IsIndex():
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return err
				}
				if err := walkIndex(child); err != nil {
					return err
				}
			case d.MediaType.IsImage():
				img, err := idx.Image(d.Digest)
				if err != nil {
					return err
				}
				if err := walkImage(img); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var err error
	if a.idx != nil {
		err = walkIndex(a.idx)
	} else {
		err = walkImage(a.img)
	}
	return len(seen), err
}

func push(ctx context.Context, a artifact, dst string, opts []Option) (_ *Result, err error) {
	o := makeOptions(opts)
	// The process-wide redactor: what push learns is also scrubbed from the
	// standard log, where net/http quotes what a server echoed.
	defer func() { err = redact.Error(err) }()

	ref, err := name.ParseReference(dst)
	if err != nil {
		return nil, fmt.Errorf("parsing destination %q: %w; want REGISTRY/REPOSITORY[:TAG] or REGISTRY/REPOSITORY@sha256:DIGEST", dst, err)
	}
	digest, mediaType, err := a.digest()
	if err != nil {
		return nil, fmt.Errorf("computing the image digest: %w", err)
	}
	res := &Result{Digest: digest, MediaType: mediaType, Repository: ref.Context().Name()}
	if tag, ok := ref.(name.Tag); ok {
		res.Tag = tag.TagStr()
	}
	t := target{ref: ref.String(), host: ref.Context().RegistryStr(), repo: ref.Context().RepositoryStr()}
	log := o.logger.With("ref", t.ref)

	auth := o.auth
	if reg, ok := ecr.ParseHost(t.host); ok {
		t.ecr, t.region = true, reg.Region
		a, done, err := o.prepareECR(ctx, reg, ref, res)
		if err != nil {
			return nil, err
		}
		if done {
			return res, nil
		}
		if auth == nil {
			auth = a
		}
	}
	if auth == nil {
		kc, err := o.keychain.Resolve(ref.Context())
		if err != nil {
			return nil, fmt.Errorf("finding credentials for %s in the Docker configuration: %w", t.host, err)
		}
		auth = kc
	}
	// Resolve once, so the secrets are known to the redactor before any
	// request is made, and a credential helper runs only once.
	cfg, err := auth.Authorization()
	if err != nil {
		return nil, fmt.Errorf("getting credentials for %s: %w; check the Docker configuration (~/.docker/config.json) and its credential helpers", t.host, err)
	}
	redact.Add(cfg.Username, cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken)
	if auth != authn.Anonymous {
		auth = authn.FromConfig(*cfg)
	}

	e := &emitter{f: o.events, done: map[string]bool{}}
	total, err := a.blobs()
	if err != nil {
		return nil, fmt.Errorf("reading the image's layers: %w", err)
	}
	e.blobsTotal = total
	e.emit(Event{Kind: EventStart, Ref: t.ref})
	log.Debug("pushing", "digest", digest.String(), "blobs", total)

	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithTransport(&observer{next: o.transport, e: e}),
		remote.WithJobs(o.jobs),
		remote.WithRetryBackoff(o.backoff),
		remote.WithRetryPredicate(func(err error) bool {
			if !transient(err) {
				return false
			}
			msg := redact.String(err.Error())
			log.Warn("retrying", "error", msg)
			e.emit(Event{Kind: EventRetry, Err: msg})
			return true
		}),
		remote.WithUserAgent(o.userAgent),
	}
	updates := make(chan v1.Update, 64)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		for u := range updates {
			if u.Error == nil {
				e.emit(Event{Kind: EventBytes, BytesDone: u.Complete, BytesTotal: u.Total})
			}
		}
	}()
	ropts = append(ropts, remote.WithProgress(updates))

	if a.idx != nil {
		err = remote.WriteIndex(ref, a.idx, ropts...)
	} else {
		err = remote.Write(ref, a.img, ropts...)
	}
	<-progressDone
	e.mu.Lock()
	res.Uploaded, res.Skipped = e.uploaded, e.skipped
	e.mu.Unlock()
	if err != nil {
		return nil, explain(t, err)
	}
	e.emit(Event{Kind: EventManifest, Ref: t.ref, Digest: digest.String()})
	log.Info("pushed", "digest", digest.String(), "uploaded", res.Uploaded, "skipped", res.Skipped)
	return res, nil
}

// prepareECR creates the repository if needed, refuses to move an
// immutable tag, and fetches registry credentials. done is true when the
// tag already points to the digest in an immutable repository.
func (o *options) prepareECR(ctx context.Context, reg ecr.Registry, ref name.Reference, res *Result) (auth authn.Authenticator, done bool, err error) {
	log := o.logger.With("ref", ref.String())
	var cfg = o.awsConfig
	if cfg == nil {
		c, err := ecr.LoadConfig(ctx, "", reg.Region)
		if err != nil {
			return nil, false, err
		}
		cfg = &c
	}
	// Known before any request, so an echo of it is scrubbed wherever it
	// lands.
	if cfg.Credentials != nil {
		if c, err := cfg.Credentials.Retrieve(ctx); err == nil {
			redact.Add("", c.SecretAccessKey, c.SessionToken)
		}
	}
	client := ecr.ForRegistry(*cfg, reg)
	repoName := ref.Context().RepositoryStr()
	repo, err := client.EnsureRepository(ctx, reg.Account, repoName, o.repo)
	if err != nil {
		return nil, false, err
	}
	if repo.Created {
		res.RepositoryCreated = true
		log.Info("created ECR repository", "repository", repoName, "mutability", string(repo.Mutability))
		if o.events != nil {
			o.events(Event{Kind: EventRepositoryCreated, Ref: res.Repository})
		}
	}
	if tag, ok := ref.(name.Tag); ok && !repo.Created && repo.TagImmutable(tag.TagStr()) {
		existing, found, err := client.TagDigest(ctx, reg.Account, repoName, tag.TagStr())
		if err != nil {
			return nil, false, err
		}
		if found && existing == res.Digest.String() {
			res.Unchanged = true
			log.Info("tag already points to this image", "digest", existing)
			return nil, true, nil
		}
		if found {
			return nil, false, &ImmutableTagError{Repository: repoName, Tag: tag.TagStr(), Existing: existing, Digest: res.Digest.String()}
		}
	}
	if o.auth != nil {
		return nil, false, nil
	}
	creds, err := client.Login(ctx)
	if err != nil {
		return nil, false, err
	}
	redact.Add(creds.Username, creds.Password)
	log.Debug("got an ECR token", "expires", creds.ExpiresAt)
	return &authn.Basic{Username: creds.Username, Password: creds.Password}, false, nil
}

// transient reports whether err is worth retrying, as go-containerregistry
// does by default.
func transient(err error) bool {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
