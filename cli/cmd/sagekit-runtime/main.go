// Command sagekit-runtime is the small static runtime sagekit images carry:
//
//	sagekit-runtime train [-- COMMAND ARGS...]   the training launcher
//	sagekit-runtime serve                        the serving stack
//	sagekit-runtime version
//
// SageMaker starts a container with the single argument "train" or "serve";
// an image's ENTRYPOINT ["sagekit-runtime"] receives it as argv[1].
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/internal/version"
)

func main() {
	// net/http logs through the standard logger, quoting what a server
	// sent (an echo of an S3 request's signature and token included).
	redact.InstallStd()
	os.Exit(run(context.Background(), os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sagekit-runtime train|serve|version [args]")
		return 2
	}
	switch args[0] {
	case "train":
		return runTrain(ctx, args[1:])
	case "serve":
		return runServe(ctx, args[1:])
	case "version", "--version":
		fmt.Println(version.String("sagekit-runtime"))
		return 0
	default:
		fmt.Fprintf(os.Stderr, "sagekit-runtime: unknown command %q: SageMaker passes \"train\" or \"serve\"\n", args[0])
		return 2
	}
}
