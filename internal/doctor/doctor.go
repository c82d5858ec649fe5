package doctor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/image/base"
	"github.com/sagekit/sagekit/image/build"
)

// Status is the outcome of one check.
type Status string

// Statuses.
const (
	OK      Status = "ok"
	Missing Status = "missing"
)

// Check is one finding.
type Check struct {
	Name string `json:"name"`
	// Required is true for what init, build, test and run cannot work
	// without; the others are needed for some uses only (GPUs, ECR, ...).
	Required bool   `json:"required"`
	Status   Status `json:"status"`
	// Detail says what was found, or what is wrong. It never holds a
	// secret.
	Detail string `json:"detail"`
	// Fix is the command (or step) that fixes a missing item.
	Fix string `json:"fix,omitempty"`
}

// Options say what to check against.
type Options struct {
	// Docker is the engine's client; nil makes one from the environment.
	Docker *client.Client
	// Profile and Region are the AWS profile and region to check (default:
	// the AWS SDK's own choice).
	Profile, Region string
	// Timeout bounds each check (default 10 s).
	Timeout time.Duration
	// LookPath finds programs (default exec.LookPath); tests replace it.
	LookPath func(string) (string, error)
}

// Run runs every check and returns the findings in a fixed order.
func Run(ctx context.Context, o Options) []Check {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	var out []Check
	dc, engine := checkEngine(ctx, o)
	out = append(out, engine)
	if dc != nil && o.Docker == nil {
		defer dc.Close()
	}
	if engine.Status == OK {
		out = append(out, checkBuildKit(ctx, o, dc))
		out = append(out, checkBases(ctx, o, dc)...)
		out = append(out, checkGPU(ctx, o, dc))
	} else {
		fix := "start the Docker Engine first (see above)"
		for _, n := range []string{"BuildKit", "base images", "GPU runtime"} {
			out = append(out, Check{Name: n, Required: n != "GPU runtime", Status: Missing, Detail: "not checked: no Docker Engine", Fix: fix})
		}
	}
	out = append(out, checkDebootstrap(o))
	out = append(out, checkGo(o))
	out = append(out, checkAWS(ctx, o)...)
	return out
}

// Failed reports whether a required check is missing.
func Failed(cs []Check) bool {
	return slices.ContainsFunc(cs, func(c Check) bool { return c.Required && c.Status != OK })
}

func checkEngine(ctx context.Context, o Options) (*client.Client, Check) {
	c := Check{Name: "Docker Engine", Required: true}
	dc := o.Docker
	if dc == nil {
		var err error
		if dc, err = client.New(client.FromEnv); err != nil {
			c.Status, c.Detail = Missing, fmt.Sprintf("configuring the Docker client: %v", err)
			c.Fix = "fix DOCKER_HOST (unset it for the local engine's socket)"
			return nil, c
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	v, err := dc.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		c.Status, c.Detail = Missing, fmt.Sprintf("not reachable at %s: %v", dc.DaemonHost(), firstLine(err))
		c.Fix = "sudo systemctl start docker (install: https://docs.docker.com/engine/install/), or set DOCKER_HOST"
		return dc, c
	}
	c.Status, c.Detail = OK, fmt.Sprintf("Docker Engine %s (API %s) at %s, %s/%s", v.Version, v.APIVersion, dc.DaemonHost(), v.Os, v.Arch)
	return dc, c
}

func checkBuildKit(ctx context.Context, o Options, dc *client.Client) Check {
	c := Check{Name: "BuildKit", Required: true}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	what, err := build.CheckBuilder(ctx, dc, "")
	if err != nil {
		c.Status, c.Detail = Missing, firstLine(err)
		c.Fix = "upgrade to Docker Engine 23 or later (its BuildKit serves sagekit build), or pass --builder unix:///run/buildkit/buildkitd.sock to sagekit build"
		return c
	}
	c.Status, c.Detail = OK, what
	return c
}

func checkBases(ctx context.Context, o Options, dc *client.Client) []Check {
	var out []Check
	for _, s := range base.Specs {
		c := Check{Name: "base image " + s.Ref, Required: s.Key != "cuda"}
		ictx, cancel := context.WithTimeout(ctx, o.Timeout)
		ins, err := dc.ImageInspect(ictx, s.Ref)
		cancel()
		switch {
		case err == nil:
			c.Status = OK
			c.Detail = fmt.Sprintf("%s/%s, %.1f MB", ins.Os, ins.Architecture, float64(ins.Size)/1e6)
		case cerrdefs.IsNotFound(err):
			c.Status, c.Detail = Missing, "not in the Docker Engine"
			switch s.Key {
			case "python":
				c.Detail += " (the python template and sagekit init's default base need it)"
			case "cuda":
				c.Detail += " (only sagekit init --gpu needs it; amd64 only)"
			default:
				c.Detail += " (the generic template needs it)"
			}
			c.Fix = "sudo sagekit base --only " + s.Key
		default:
			c.Status, c.Detail = Missing, fmt.Sprintf("inspecting: %v", firstLine(err))
			c.Fix = "sudo sagekit base --only " + s.Key
		}
		out = append(out, c)
	}
	return out
}

func checkGPU(ctx context.Context, o Options, dc *client.Client) Check {
	c := Check{Name: "GPU runtime"}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	info, err := dc.Info(ctx, client.InfoOptions{})
	if err != nil {
		c.Status, c.Detail = Missing, fmt.Sprintf("reading the engine's info: %v", firstLine(err))
		return c
	}
	var found []string
	for name := range info.Info.Runtimes {
		if strings.Contains(name, "nvidia") {
			found = append(found, "runtime "+name)
		}
	}
	if len(found) == 0 {
		c.Status = Missing
		c.Detail = "the engine has no NVIDIA runtime: --gpu runs and the GPU rules of sagekit test are skipped"
		c.Fix = "install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html), then sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
		return c
	}
	slices.Sort(found)
	c.Status, c.Detail = OK, strings.Join(found, ", ")
	return c
}

func checkDebootstrap(o Options) Check {
	c := Check{Name: "debootstrap"}
	p, err := o.LookPath("debootstrap")
	if err != nil {
		c.Status, c.Detail = Missing, "sagekit base needs it to make the base images"
		c.Fix = "sudo apt-get install debootstrap"
		return c
	}
	c.Status, c.Detail = OK, p
	return c
}

func checkGo(o Options) Check {
	c := Check{Name: "Go toolchain"}
	p, err := o.LookPath("go")
	if err != nil {
		c.Status, c.Detail = Missing, "the go template compiles on this machine during sagekit build"
		c.Fix = "install Go 1.25 or later: https://go.dev/doc/install"
		return c
	}
	c.Status, c.Detail = OK, p
	return c
}

// checkAWS loads the AWS configuration as sagekit push does and retrieves
// credentials locally; it calls no AWS API. Only where they come from is
// printed, never a key.
func checkAWS(ctx context.Context, o Options) []Check {
	creds := Check{Name: "AWS credentials"}
	region := Check{Name: "AWS region"}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		creds.Status, creds.Detail = Missing, firstLine(err)
		creds.Fix = "aws configure list (and fix ~/.aws/config or AWS_PROFILE)"
		region.Status, region.Detail, region.Fix = Missing, "not checked: the AWS configuration does not load", creds.Fix
		return []Check{creds, region}
	}
	if cfg.Region == "" {
		region.Status, region.Detail = Missing, "no region: sagekit push --ecr and ECR destinations need one"
		region.Fix = "aws configure set region eu-west-1 (or export AWS_REGION=eu-west-1)"
	} else {
		region.Status, region.Detail = OK, cfg.Region
	}
	if cfg.Credentials == nil {
		creds.Status, creds.Detail = Missing, "no credential provider"
		creds.Fix = "aws configure (or aws sso login --profile NAME)"
		return []Check{creds, region}
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	switch {
	case err != nil:
		creds.Status, creds.Detail = Missing, "none found: pushing to ECR needs them ("+credError(err)+")"
		creds.Fix = "aws configure (or aws sso login --profile NAME, or export AWS_PROFILE=NAME)"
	default:
		creds.Status = OK
		creds.Detail = "from " + c.Source
		if c.CanExpire {
			creds.Detail += fmt.Sprintf(", expiring %s", c.Expires.UTC().Format(time.RFC3339))
		}
	}
	return []Check{creds, region}
}

// credError shortens the SDK's chain error to its first line, which names
// the providers tried and no secret.
func credError(err error) string {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg = e.Error()
	}
	return firstLine(errors.New(msg))
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}
