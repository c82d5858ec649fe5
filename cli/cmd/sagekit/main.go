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
	// The first Ctrl-C cancels ctx and the command cleans up; from then on
	// signals act as usual, so a second Ctrl-C ends the process at once
	// (what it leaves is removed by the next command's sweep of dead owners).
	go func() { <-ctx.Done(); stop() }()
	code := cli.Execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
