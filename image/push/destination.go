package push

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sagekit/sagekit/image/ecr"
)

// Destination is where a push goes, as a user names it: a registry
// reference, or a repository in the ECR registry of the caller's own AWS
// account and region.
type Destination struct {
	// Ref is REGISTRY/REPO[:TAG] (empty when ECRRepo is set).
	Ref string
	// ECRRepo is REPO[:TAG] in the ECR registry of the account whose
	// credentials Profile and Region select.
	ECRRepo string
	// Profile and Region select the AWS credentials and region (empty:
	// the AWS SDK's defaults). For an ECR Ref, the region of its host wins.
	Profile, Region string
}

// Resolve returns the reference to push to and the options an ECR
// destination needs: for ECRRepo, the account is looked up (an STS call)
// and the reference is ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG]; an
// ECR Ref gets AWS credentials for the region of its host. Other
// registries need no option.
func (d Destination) Resolve(ctx context.Context) (string, []Option, error) {
	if d.ECRRepo != "" {
		if d.Ref != "" {
			return "", nil, errors.New("push destination: give a reference or an ECR repository, not both")
		}
		cfg, err := ecr.LoadConfig(ctx, d.Profile, d.Region)
		if err != nil {
			return "", nil, err
		}
		if cfg.Region == "" {
			return "", nil, ecr.ErrNoRegion
		}
		account, err := ecr.New(cfg).Account(ctx)
		if err != nil {
			return "", nil, err
		}
		return ecr.HostFor(account, cfg.Region) + "/" + d.ECRRepo, []Option{WithAWSConfig(cfg)}, nil
	}
	if reg, ok := ECRRegistry(d.Ref); ok {
		cfg, err := ecr.LoadConfig(ctx, d.Profile, reg.Region)
		if err != nil {
			return "", nil, err
		}
		return d.Ref, []Option{WithAWSConfig(cfg)}, nil
	}
	return d.Ref, nil, nil
}

// ECRRegistry reports whether the reference ref names an ECR registry,
// and which.
func ECRRegistry(ref string) (ecr.Registry, bool) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ecr.Registry{}, false
	}
	return ecr.ParseHost(r.Context().RegistryStr())
}

// Artifact pushes what a build produced to dst: the index when there is
// one (a multi-platform build), else the image.
func Artifact(ctx context.Context, img v1.Image, idx v1.ImageIndex, dst string, opts ...Option) (*Result, error) {
	if idx != nil {
		return Index(ctx, idx, dst, opts...)
	}
	return Image(ctx, img, dst, opts...)
}
