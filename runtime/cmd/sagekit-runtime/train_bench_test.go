package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/optml/optmltest"
)

// BenchmarkLauncher measures what `sagekit-runtime train` adds around a
// program: each pair runs the same program directly and through the
// launcher (reading the three config files, exporting SM_*, starting the
// program in its own process group, waiting, writing the success file).
// The difference of a pair is the launcher's overhead. `make bench-launcher`
// runs it.
func BenchmarkLauncher(b *testing.B) {
	runtimeBin := testenv.Runtime(b)
	p := optmltest.New(b, optml.Layout{
		Hyperparameters: optml.Hyperparameters{"epochs": "2", "lr": "0.01", "name": `"abc"`, "flag": "true"},
		Channels:        map[string]map[string][]byte{"train": {"a.csv": []byte("1\n")}},
	})
	if err := os.MkdirAll(p.Code(), 0o755); err != nil {
		b.Fatal(err)
	}
	trainPy := filepath.Join(p.Code(), "train.py")
	if err := os.WriteFile(trainPy, []byte("pass\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), optml.EnvBaseDir+"="+p.Root(), "SAGEKIT_QUIET=1")
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Skip("skipped: no true(1) on PATH")
	}
	cases := []struct {
		name string
		argv []string
		env  []string
	}{
		{"true/direct", []string{truePath}, env},
		{"true/launcher", []string{runtimeBin, "train", "--", truePath}, env},
	}
	// The interpreter itself, not a wrapper such as a pyenv shim, for both
	// runs of the pair.
	if out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output(); err == nil {
		python := strings.TrimSpace(string(out))
		env := append(env, "SAGEKIT_PYTHON="+python)
		cases = append(cases,
			struct {
				name string
				argv []string
				env  []string
			}{"python3/direct", []string{python, trainPy}, env},
			struct {
				name string
				argv []string
				env  []string
			}{"python3/launcher", []string{runtimeBin, "train"}, append(env, optml.EnvProgram+"=train.py")},
		)
	} else {
		b.Log("no python3 on PATH: the python3 pair is left out")
	}
	// Time to the program's first byte on stdout: what the launcher adds
	// before the program runs, without the waiting and the success file
	// after it exits.
	if echo, err := exec.LookPath("echo"); err == nil {
		for _, c := range []struct {
			name string
			argv []string
		}{
			{"first-output/direct", []string{echo, "x"}},
			{"first-output/launcher", []string{runtimeBin, "train", "--no-args", "--", echo, "x"}},
		} {
			b.Run(c.name, func(b *testing.B) {
				var times []time.Duration
				for b.Loop() {
					cmd := exec.Command(c.argv[0], c.argv[1:]...)
					cmd.Env = env
					stdout, err := cmd.StdoutPipe()
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					one := make([]byte, 1)
					if _, err := stdout.Read(one); err != nil {
						b.Fatalf("%v: reading the first byte: %v", c.argv, err)
					}
					times = append(times, time.Since(start))
					io.Copy(io.Discard, stdout)
					if err := cmd.Wait(); err != nil {
						b.Fatalf("%v: %v", c.argv, err)
					}
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[0])/1e6, "min-ms")
				b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
			})
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var times []time.Duration
			var cpu time.Duration
			for b.Loop() {
				cmd := exec.Command(c.argv[0], c.argv[1:]...)
				cmd.Env = c.env
				start := time.Now()
				out, err := cmd.CombinedOutput()
				times = append(times, time.Since(start))
				if err != nil {
					b.Fatalf("%v: %v\n%s", c.argv, err, out)
				}
				// Includes the program's own CPU time: the launcher waits for it.
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(cpu)/float64(len(times))/1e6, "cpu-ms")
			// On a busy machine the mean drifts with the load; the best
			// and the median runs say more about the launcher itself.
			slices.Sort(times)
			b.ReportMetric(float64(times[0])/1e6, "min-ms")
			b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
		})
	}
}
