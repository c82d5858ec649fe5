package push_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/image/push"
)

// BenchmarkImage pushes a 4-layer, 32 MiB image to a loopback registry:
// "upload" to an empty registry each time, "existing" to one that holds
// every blob already (only HEADs and the manifest go out).
func BenchmarkImage(b *testing.B) {
	img, err := random.Image(8<<20, 4)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(32 << 20)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			reg := ecrtest.NewRegistry(b, "", "")
			b.StartTimer()
			if _, err := push.Image(ctx, img, reg.Host+"/bench:v1", push.WithKeychain(anonymous)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("existing", func(b *testing.B) {
		reg := ecrtest.NewRegistry(b, "", "")
		if _, err := push.Image(ctx, img, reg.Host+"/bench:base", push.WithKeychain(anonymous)); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := push.Image(ctx, img, fmt.Sprintf("%s/bench:v%d", reg.Host, i), push.WithKeychain(anonymous)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
