package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/remote"
	"github.com/sagekit/sagekit/sdk/optml"
)

func init() { register(newInvokeCmd) }

// invokeTimeout is how long the SageMaker runtime waits for a container's
// answer.
const invokeTimeout = 60 * time.Second

type invokeOptions struct {
	aws  awsFlags
	body string
	in   remote.Invocation
}

func newInvokeCmd() *cobra.Command {
	var o invokeOptions
	cmd := &cobra.Command{
		Use:   "invoke ENDPOINT|URL --body FILE|-",
		Short: "Send one request to an endpoint and print its answer",
		Long: `Sends the body to an endpoint with the SageMaker runtime's InvokeEndpoint
(credentials and region from the AWS SDK's chain; --endpoint-url for 'sagekit
local' or an emulator), or, when ENDPOINT is a URL such as the one
'sagekit run endpoint' prints, straight to its /invocations.

The answer goes to stdout as it came; the variant that answered goes to stderr.`,
		Example: `  sagekit invoke my-endpoint --body payload.csv --content-type text/csv
  echo '{"x": [1, 2]}' | sagekit invoke my-endpoint --body - --content-type application/json --variant candidate
  sagekit invoke http://127.0.0.1:8080 --body payload.csv --content-type text/csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.in.Endpoint = args[0]
			return runInvoke(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "the endpoint or the container answered with an error, or the body could not be read")
	o.aws.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.body, "body", "", "request body: a file, or - for stdin (required)")
	f.StringVar(&o.in.ContentType, "content-type", "", "Content-Type of the request")
	f.StringVar(&o.in.Accept, "accept", "", "Accept header of the request")
	f.StringVar(&o.in.Variant, "variant", "", "production variant to send the request to (default: by weight)")
	f.StringVar(&o.in.TargetModel, "target-model", "", "multi-model endpoints: the model, its path under the endpoint's prefix (e.g. model-a.tar.gz)")
	f.StringVar(&o.in.CustomAttributes, "custom-attributes", "", "X-Amzn-SageMaker-Custom-Attributes passed to the container")
	cmd.MarkFlagRequired("body")
	return cmd
}

func runInvoke(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o invokeOptions) error {
	var r io.Reader = stdin
	if o.body != "-" {
		f, err := os.Open(o.body)
		if err != nil {
			return fmt.Errorf("reading --body: %w", err)
		}
		defer f.Close()
		r = f
	}
	body, err := remote.ReadBody(r)
	if err != nil {
		return err
	}
	o.in.Body = body
	var a *remote.Answer
	if strings.HasPrefix(o.in.Endpoint, "http://") || strings.HasPrefix(o.in.Endpoint, "https://") {
		a, err = invokeURL(ctx, o.in)
	} else {
		var c *remote.Client
		if c, err = o.aws.client(ctx); err != nil {
			return err
		}
		a, err = c.Invoke(ctx, o.in)
	}
	if err != nil {
		return err
	}
	if _, err := stdout.Write(a.Body); err != nil {
		return err
	}
	if a.Variant != "" {
		fmt.Fprintf(stderr, "variant: %s\n", a.Variant)
	}
	return nil
}

// invokeURL posts to URL/invocations with the headers the SageMaker
// runtime would pass on.
func invokeURL(ctx context.Context, in remote.Invocation) (*remote.Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	u := strings.TrimRight(in.Endpoint, "/") + optml.RouteInvocations
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(in.Body))
	if err != nil {
		return nil, fmt.Errorf("invoking %s: %w", u, err)
	}
	for h, v := range map[string]string{"Content-Type": in.ContentType, "Accept": in.Accept,
		"X-Amzn-SageMaker-Target-Model": in.TargetModel, "X-Amzn-SageMaker-Custom-Attributes": in.CustomAttributes} {
		if v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoking %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoking %s: the container answered %s: %s", u, resp.Status, bytes.TrimSpace(tail(b, 1024)))
	}
	return &remote.Answer{Body: b, ContentType: resp.Header.Get("Content-Type"), CustomAttributes: resp.Header.Get("X-Amzn-SageMaker-Custom-Attributes")}, nil
}
