// Command sagekit builds, tests and ships SageMaker container images.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sagekit/sagekit/cli"
	"github.com/sagekit/sagekit/internal/redact"
)

func main() {
	// net/http logs through the standard logger, quoting what a server
	// sent (an echo of a request's Authorization included).
	redact.InstallStd()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
