// Command evalfixture is a minimal SageMaker algorithm for the evaluate
// tests: "train" writes the most common label of the training channel
// (column 0) as the model, "serve" answers every CSV row with it. Its
// environment breaks it on purpose:
//
//	FIXTURE_FAIL_MARKER=S  training fails when the validation channel holds S
//	FIXTURE_GARBAGE=S      serving answers "???" for a row holding S
//	FIXTURE_TRAIN_SLEEP=D  training sleeps D first (a Go duration)
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const root = "/opt/ml"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: evalfixture train|serve")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "train":
		if err := train(); err != nil {
			os.WriteFile(filepath.Join(root, "output", "failure"), []byte(err.Error()), 0o644)
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "serve":
		serve()
	default:
		os.Exit(2)
	}
}

func readDir(dir string) ([]byte, error) {
	var all []byte
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all = append(all, b...)
		return err
	})
	return all, err
}

func train() error {
	if d, err := time.ParseDuration(os.Getenv("FIXTURE_TRAIN_SLEEP")); err == nil {
		time.Sleep(d)
	}
	if m := os.Getenv("FIXTURE_FAIL_MARKER"); m != "" {
		val, _ := readDir(filepath.Join(root, "input", "data", "validation"))
		if bytes.Contains(val, []byte(m)) {
			return fmt.Errorf("the validation channel holds the marker %s", m)
		}
	}
	data, err := readDir(filepath.Join(root, "input", "data", "training"))
	if err != nil {
		return fmt.Errorf("reading the training channel: %w", err)
	}
	count := map[string]int{}
	best := ""
	for _, line := range strings.Split(string(data), "\n") {
		label, _, _ := strings.Cut(line, ",")
		if label == "" {
			continue
		}
		count[label]++
		if count[label] > count[best] || count[label] == count[best] && label < best {
			best = label
		}
	}
	return os.WriteFile(filepath.Join(root, "model", "majority"), []byte(best), 0o644)
}

func serve() {
	model, err := os.ReadFile(filepath.Join(root, "model", "majority"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	garbage := os.Getenv("FIXTURE_GARBAGE")
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/invocations", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if garbage != "" && strings.Contains(sc.Text(), garbage) {
				fmt.Fprintln(w, "???")
				continue
			}
			fmt.Fprintf(w, "%s\n", model)
		}
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
