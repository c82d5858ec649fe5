// Command sagekit-runtime is the small static runtime sagekit images carry:
//
//	sagekit-runtime train [-- COMMAND ARGS...]   the training launcher
//	sagekit-runtime serve                        the serving stack
//	sagekit-runtime version
//
// SageMaker starts a container with the single argument "train" or "serve";
// an image's ENTRYPOINT ["sagekit-runtime"] receives it as argv[1]. The
// logic lives in package runtime/entrypoint.
package main

import (
	"context"
	"os"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/runtime/entrypoint"
)

func main() {
	// net/http logs through the standard logger, quoting what a server
	// sent (an echo of an S3 request's signature and token included).
	redact.InstallStd()
	os.Exit(entrypoint.Run(context.Background(), os.Args[1:]))
}
