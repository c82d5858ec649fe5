// Command batchserver is a tiny inference container for the batch
// transform tests: `batchserver serve` listens on :8080 and answers
// /invocations with one line per input line, upper-cased and tagged with
// the number of records in the request ("A#3"), joined by newlines with no
// trailing newline. A line "FAIL" makes the request fail with 500; a line
// "ENV" is answered with the batch variables the container got, a line
// "MODEL" with the names of the files in /opt/ml/model; a line "SLEEP"
// holds the request for 5 s.
// /execution-parameters returns $TEST_EXECUTION_PARAMETERS, or 404 when
// unset. Requests are answered after a short pseudo-random delay, so
// concurrent ones finish out of order.
package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: batchserver serve")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /execution-parameters", func(w http.ResponseWriter, r *http.Request) {
		p := os.Getenv("TEST_EXECUTION_PARAMETERS")
		if p == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, p)
	})
	mux.HandleFunc("POST /invocations", invocations)
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		<-sigs
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func invocations(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	var out bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			out.WriteByte('\n')
		}
		switch l {
		case "FAIL":
			fmt.Fprintf(os.Stderr, "failing on purpose\n")
			http.Error(w, "bad record", http.StatusInternalServerError)
			return
		case "ENV":
			for _, k := range []string{"SAGEMAKER_BATCH", "SAGEMAKER_BATCH_STRATEGY", "SAGEMAKER_MAX_PAYLOAD_IN_MB", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"} {
				fmt.Fprintf(&out, "%s=%s,", k, os.Getenv(k))
			}
			fmt.Fprintf(&out, "ct=%s,accept=%s", r.Header.Get("Content-Type"), r.Header.Get("Accept"))
		case "SLEEP":
			time.Sleep(5 * time.Second)
			out.WriteString("AWAKE")
		case "MODEL":
			ents, _ := os.ReadDir("/opt/ml/model")
			for j, e := range ents {
				if j > 0 {
					out.WriteByte(',')
				}
				out.WriteString(e.Name())
			}
		default:
			fmt.Fprintf(&out, "%s#%d", strings.ToUpper(l), len(lines))
		}
	}
	w.Write(out.Bytes())
}
