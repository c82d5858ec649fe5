package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// spawn starts one process of worker i, or has the fork server fork it.
func (p *Pool) spawn(ctx context.Context, i int) (*proc, error) {
	sock := filepath.Join(p.o.socketDir, "w"+strconv.Itoa(i)+".sock")
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the old socket %s: %w", sock, err)
	}
	extra := []string{
		optml.EnvWorkerSocket + "=" + sock,
		optml.EnvWorkerID + "=" + strconv.Itoa(i),
		optml.EnvModelDir + "=" + p.modelDir,
	}
	if len(p.o.gpus) > 0 {
		extra = append(extra, "CUDA_VISIBLE_DEVICES="+p.o.gpus[i%len(p.o.gpus)])
	}
	var pr *proc
	if p.fs != nil {
		var err error
		if pr, err = p.fs.spawn(ctx, i, sock, extra); err != nil {
			return nil, err
		}
	} else {
		cmd := exec.Command(p.command[0], p.command[1:]...)
		cmd.Dir = p.o.dir
		env := p.o.env
		if env == nil {
			env = os.Environ()
		}
		cmd.Env = mergeEnv(env, extra)
		setProcessGroup(cmd)
		pr = &proc{id: i, cmd: cmd, sock: sock, exited: make(chan struct{})}
		if err := startWithOutput(cmd, &pr.output, p.o.stdout, p.o.stderr); err != nil {
			return nil, fmt.Errorf("starting worker %d (%s): %w", i, strings.Join(p.command, " "), err)
		}
		pr.pid = cmd.Process.Pid
		pr.started = time.Now()
		go func() {
			pr.exitErr = cmd.Wait()
			close(pr.exited)
		}()
	}
	p.mu.Lock()
	p.live[pr] = struct{}{}
	p.mu.Unlock()
	return pr, nil
}

// startWithOutput starts cmd with its stdout and stderr passed on line by
// line to stdout and stderr; wg counts the two streams until they end.
func startWithOutput(cmd *exec.Cmd, wg *sync.WaitGroup, stdout, stderr io.Writer) error {
	outR, outW, err := newOutputPipe()
	if err != nil {
		return fmt.Errorf("creating a pipe: %w", err)
	}
	errR, errW, err := newOutputPipe()
	if err != nil {
		outR.close()
		outW.Close()
		return fmt.Errorf("creating a pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.close()
		errR.close()
		return err
	}
	wg.Add(2)
	follow(outR, stdout, wg)
	follow(errR, stderr, wg)
	return nil
}

func mergeEnv(base, extra []string) []string {
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		overridden := false
		for _, e := range extra {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				overridden = true
				break
			}
		}
		if !overridden {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// waitReady polls the worker's /ping until it answers 200, the process
// exits or ctx ends. Polls start every 2 ms so a fast worker is ready at once.
func (p *Pool) waitReady(ctx context.Context, pr *proc) error {
	delay := 2 * time.Millisecond
	var last string
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := pr.roundTrip(pctx, http.MethodGet, "/ping", nil, 1<<20)
		if err == nil {
			if resp.Status == http.StatusOK {
				cancel()
				return nil
			}
			last = fmt.Sprintf("/ping answered %d", resp.Status)
		} else {
			last = err.Error()
		}
		cancel()
		select {
		case <-pr.exited:
			return fmt.Errorf("worker %d exited before it was ready (%s): see its output above", pr.id, describeExit(pr.exitErr))
		case <-ctx.Done():
			return fmt.Errorf("worker %d not ready (last: %s): %w", pr.id, last, ctx.Err())
		case <-p.stop:
			return errors.New("pool closed")
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}
