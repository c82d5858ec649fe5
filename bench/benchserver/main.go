// Command benchserver is a Go server under benchmark, chosen by -mode:
//
//	bare  net/http alone: GET /ping, and POST /invocations reading the body
//	      and answering "0\n" (the physical limit of a Go HTTP server here)
//	noop  serving.New with a handler that answers "0\n"
//	tree  serving.New with the iris tree loaded from tree.json
//
// noop and tree are configured the way app.Main serves a Go handler: options
// from the SAGEMAKER_* environment, a JSON log and access log on stdout,
// written in batches.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/bench/tree"
	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/serving"
)

func main() {
	mode := flag.String("mode", "tree", "bare, noop or tree")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *mode, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, mode, addr string) error {
	var h serve.Handler
	switch mode {
	case "bare":
		return bare(ctx, addr)
	case "noop":
		h = tree.NewNoop()
	case "tree":
		h = &tree.Handler{}
	default:
		return fmt.Errorf("unknown -mode %q: want bare, noop or tree", mode)
	}
	opts, err := serving.OptionsFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	// As app.Main and sagekit-runtime serve log: JSON lines on stdout,
	// written in batches.
	out := serving.NewLineBuffer(os.Stdout, 0)
	defer out.Flush()
	log := slog.New(slog.NewJSONHandler(out, nil))
	opts = append(opts, serving.WithAddr(addr), serving.WithLogger(log), serving.WithAccessLogWriter(out))
	return serving.New(h, opts...).Run(ctx)
}

var zero = []byte("0\n")

func bare(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("\n"))
	})
	mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 6<<20)); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		w.Write(zero)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
