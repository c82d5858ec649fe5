// Command affine is a test image's entrypoint: `serve` answers /ping, and
// /invocations with every CSV number x turned into SCALE*x+SHIFT (from the
// environment), on SAGEMAKER_BIND_TO_PORT (default 8080). A body that is
// not numbers gets 400.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "affine: only serve")
		os.Exit(2)
	}
	scale, _ := strconv.ParseFloat(os.Getenv("SCALE"), 64)
	shift, _ := strconv.ParseFloat(os.Getenv("SHIFT"), 64)
	port := os.Getenv("SAGEMAKER_BIND_TO_PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var out []string
		for _, f := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == '\n' }) {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				http.Error(w, fmt.Sprintf("%q is not a number", f), http.StatusBadRequest)
				return
			}
			out = append(out, strconv.FormatFloat(scale*x+shift, 'g', -1, 64))
		}
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprintln(w, strings.Join(out, ","))
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	fmt.Println("affine: serving on", port)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
