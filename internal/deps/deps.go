// Package deps pins the module graph while the project grows; removed before release.
package deps

import (
	_ "github.com/moby/buildkit/client"
	_ "github.com/moby/buildkit/util/progress/progressui"
	_ "github.com/moby/buildkit/session/auth/authprovider"
	_ "github.com/moby/buildkit/session/secrets/secretsprovider"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-containerregistry/pkg/v1/daemon"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/gorilla/mux"
	_ "github.com/spf13/cobra"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/moby/moby/client"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/ecr"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/tonistiigi/fsutil"
)
