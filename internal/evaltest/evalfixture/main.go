// Command evalfixture is a minimal SageMaker algorithm for the evaluate
// tests: "train" counts the labels of the training channel (column 0),
// "serve" answers every CSV row with the most common one. Its environment
// changes what it answers, or breaks it on purpose:
//
//	FIXTURE_OUTPUT=scores  answer each class's share, "p1,p2,..." in the
//	                       classes' lexical order (probabilities)
//	FIXTURE_OUTPUT=mean    answer the mean of the labels (regression)
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
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
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
	best, n, sum := "", 0, 0.0
	for _, line := range strings.Split(string(data), "\n") {
		label, _, _ := strings.Cut(line, ",")
		if label == "" {
			continue
		}
		n++
		v, _ := strconv.ParseFloat(label, 64)
		sum += v
		count[label]++
		if count[label] > count[best] || count[label] == count[best] && label < best {
			best = label
		}
	}
	var answer string
	switch os.Getenv("FIXTURE_OUTPUT") {
	case "scores":
		classes := slices.Sorted(maps.Keys(count))
		shares := make([]string, len(classes))
		for i, c := range classes {
			shares[i] = strconv.FormatFloat(float64(count[c])/float64(n), 'g', -1, 64)
		}
		answer = strings.Join(shares, ",")
	case "mean":
		answer = strconv.FormatFloat(sum/float64(n), 'g', -1, 64)
	default:
		answer = best
	}
	return os.WriteFile(filepath.Join(root, "model", "answer"), []byte(answer), 0o644)
}

func serve() {
	model, err := os.ReadFile(filepath.Join(root, "model", "answer"))
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
