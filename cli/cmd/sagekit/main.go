// Command sagekit builds, tests and ships SageMaker container images.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sagekit/sagekit/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
