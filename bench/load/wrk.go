package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Wrk runs wrk against t with conns connections for d and parses its
// report. Request bodies go through a Lua script written to dir.
func Wrk(ctx context.Context, wrk string, t Target, conns int, d time.Duration, dir string) (Result, error) {
	threads := min(2, conns)
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s", "--latency", "--timeout", "10s"}
	if t.Body != nil || t.Method != "" {
		body := filepath.Join(dir, fmt.Sprintf("wrk-body-%d", len(t.Body)))
		if err := os.WriteFile(body, t.Body, 0o644); err != nil {
			return Result{}, err
		}
		script := body + ".lua"
		lua := fmt.Sprintf("local f = io.open(%q, \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\nwrk.method = %q\n", body, t.method())
		if t.ContentType != "" {
			lua += fmt.Sprintf("wrk.headers[\"Content-Type\"] = %q\n", t.ContentType)
		}
		if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
			return Result{}, err
		}
		args = append(args, "-s", script)
	}
	args = append(args, t.URL())
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, wrk, args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("running wrk %s: %w: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	r, err := ParseWrk(out.Bytes())
	if err != nil {
		return Result{}, fmt.Errorf("reading the output of wrk %s: %w:\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	r.Elapsed = d
	if ps := cmd.ProcessState; ps != nil {
		r.GenCPU = ps.UserTime() + ps.SystemTime()
	}
	return r, nil
}

var (
	wrkPercentile = regexp.MustCompile(`^\s*(50|90|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkMax        = regexp.MustCompile(`^\s*Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s|m)`)
	wrkRequests   = regexp.MustCompile(`^\s*(\d+) requests in`)
	wrkRPS        = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)`)
	wrkSocket     = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx     = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// ParseWrk reads the report wrk --latency prints.
func ParseWrk(out []byte) (Result, error) {
	var r Result
	var sawRPS bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkPercentile.FindStringSubmatch(line); m != nil {
			d := wrkDuration(m[2], m[3])
			switch m[1] {
			case "50":
				r.P50 = d
			case "90":
				r.P90 = d
			case "99":
				r.P99 = d
			}
		} else if m := wrkMax.FindStringSubmatch(line); m != nil {
			r.Max = wrkDuration(m[1], m[2])
		} else if m := wrkRequests.FindStringSubmatch(line); m != nil {
			r.Requests, _ = strconv.Atoi(m[1])
		} else if m := wrkRPS.FindStringSubmatch(line); m != nil {
			r.RPS, _ = strconv.ParseFloat(m[1], 64)
			sawRPS = true
		} else if m := wrkSocket.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.Atoi(s)
				r.SocketErrors += n
			}
		} else if m := wrkNon2xx.FindStringSubmatch(line); m != nil {
			r.Non2xx, _ = strconv.Atoi(m[1])
		}
	}
	if !sawRPS {
		return r, fmt.Errorf("no Requests/sec line")
	}
	return r, nil
}

func wrkDuration(num, unit string) time.Duration {
	f, _ := strconv.ParseFloat(num, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	case "s":
		return time.Duration(f * float64(time.Second))
	}
	return time.Duration(f * float64(time.Minute))
}
