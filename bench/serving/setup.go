package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	python   = "/usr/bin/python3" // Debian's, with the python3-* packages
	gunicorn = "/usr/bin/gunicorn"
	nginx    = "/usr/sbin/nginx"
	wrk      = "/usr/bin/wrk"
)

// debianPackages is what the reference stack and the load generator need.
var debianPackages = []string{"nginx", "gunicorn", "python3-flask", "python3-gevent", "python3-sklearn", "python3-pandas", "wrk"}

// ensureDeps installs the Debian packages when something is missing. Only
// wrk may stay missing (the closed loops then use the Go generator).
func ensureDeps(ctx context.Context) error {
	missing := false
	for _, p := range []string{python, gunicorn, nginx, wrk} {
		if _, err := os.Stat(p); err != nil {
			missing = true
		}
	}
	if !missing {
		if err := exec.CommandContext(ctx, python, "-c", "import flask, gevent, sklearn, pandas").Run(); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	install := "apt-get install -y " + strings.Join(debianPackages, " ")
	if os.Geteuid() != 0 {
		if referencePresent(ctx) {
			return nil // all but wrk
		}
		return fmt.Errorf("the reference stack needs Debian packages: run `apt-get update && %s` as root", install)
	}
	fmt.Println("installing", strings.Join(debianPackages, " "))
	for _, args := range [][]string{{"update", "-q"}, append([]string{"install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"}, debianPackages...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			if referencePresent(ctx) {
				fmt.Printf("apt-get %s failed; going on without wrk:\n%s\n", strings.Join(args, " "), out)
				return nil
			}
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// referencePresent reports whether everything but wrk is installed.
func referencePresent(ctx context.Context) bool {
	for _, p := range []string{python, gunicorn, nginx} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return exec.CommandContext(ctx, python, "-c", "import flask, gevent, sklearn, pandas").Run() == nil
}

func haveWrk() bool {
	_, err := os.Stat(wrk)
	return err == nil
}

// buildBinaries builds sagekit-runtime and benchserver as the Makefile
// builds the runtime (static, trimmed) into dir.
func buildBinaries(ctx context.Context, dir string) (runtimeBin, serverBin string, err error) {
	runtimeBin, serverBin = filepath.Join(dir, "sagekit-runtime"), filepath.Join(dir, "benchserver")
	for bin, pkg := range map[string]string{runtimeBin: "./runtime/cmd/sagekit-runtime", serverBin: "./bench/benchserver"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.WaitDelay = 5 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("building %s: %w\n%s", pkg, err, out)
		}
	}
	return runtimeBin, serverBin, nil
}

// machine describes where the run happened.
type machine struct {
	CPU, Kernel, Go, Governor string
	Cores                     int
	MemGiB                    float64
	Versions                  []string
	LoadStart                 string
	Nice                      int // of the benchmark and everything it starts
}

func describeMachine(ctx context.Context) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
		m.Nice = 20 - p // the raw system call returns 20 - nice
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(string(b), "MemTotal: %f kB", &kb)
		m.MemGiB = kb / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"); err == nil {
		m.Governor = strings.TrimSpace(string(b))
	} else {
		m.Governor = "not exposed"
	}
	out := func(name string, args ...string) string {
		b, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
		return strings.TrimSpace(string(b))
	}
	m.Versions = append(m.Versions,
		strings.TrimPrefix(out(nginx, "-v"), "nginx version: "),
		out(gunicorn, "--version"),
		strings.Join(strings.Fields(out(python, "-c",
			"import sys, flask, gevent, sklearn, pandas, numpy; print('Python', sys.version.split()[0], 'Flask', flask.__version__, 'gevent', gevent.__version__, 'scikit-learn', sklearn.__version__, 'pandas', pandas.__version__, 'numpy', numpy.__version__)")), " "),
	)
	if f := strings.Fields(out(wrk, "--version")); len(f) >= 2 {
		m.Versions = append(m.Versions, f[0]+" "+f[1])
	}
	return m
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuIdle samples /proc/stat over d and returns the idle share of all CPUs.
func cpuIdle(d time.Duration) float64 {
	read := func() (idle, total float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
		return idle, total
	}
	i0, t0 := read()
	time.Sleep(d)
	i1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return (i1 - i0) / (t1 - t0)
}

// waitIdle waits up to max for the CPUs to be at least 90% idle and
// returns the last idle share seen.
func waitIdle(ctx context.Context, max time.Duration) float64 {
	deadline := time.Now().Add(max)
	for {
		idle := cpuIdle(500 * time.Millisecond)
		if idle >= 0.9 || time.Now().After(deadline) || ctx.Err() != nil {
			return idle
		}
	}
}
