// Command mksdk writes the copy of the sagekit module that `make build`
// embeds in the sagekit binary (image/sdkmod/embedded/).
//
//	go run ./image/sdkmod/mksdk [-o DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/sagekit/sagekit/image/sdkmod"
)

func main() {
	out := flag.String("o", "image/sdkmod/embedded", "directory to write sdk.zip and sdk.json to")
	root := flag.String("C", ".", "the sagekit module source (a git checkout)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := sdkmod.FromSource(ctx, *root)
	if err == nil {
		err = s.WriteEmbed(*out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mksdk: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%s@%s (%d KiB)\n", sdkmod.Module, s.Version, len(s.Zip)/1024)
}
