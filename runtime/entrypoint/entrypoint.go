package entrypoint

import (
	"context"
	"fmt"
	"os"

	"github.com/sagekit/sagekit/internal/version"
)

// Run is `sagekit-runtime ARGS...` and returns its exit code.
func Run(ctx context.Context, args []string) int {
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
