package toolkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/sagekit/sagekit/sdk/hyperparam"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Detect probes the machine as the toolkit does: the online CPUs
// (os.cpu_count), the lines starting "GPU " in `nvidia-smi --list-gpus`
// (0 when it fails or is missing), the Neuron cores (64 on trn2.48xlarge,
// else the sum of nc_count from `neuron-ls -j`, 0 on error), and whether
// smddprun and smddpmprun are on PATH. The commands run only when they are
// on PATH, and concurrently, so a machine without them pays nothing.
func Detect(ctx context.Context, instanceType string) System {
	sys := System{NumCPUs: NumCPUs()}
	var gpus chan int
	if _, err := exec.LookPath("nvidia-smi"); err == nil {
		gpus = make(chan int, 1)
		go func() { gpus <- NumGPUs(ctx) }()
	}
	sys.NumNeurons = NumNeurons(ctx, instanceType)
	_, err := exec.LookPath("smddprun")
	sys.SMDDPRun = err == nil
	_, err = exec.LookPath("smddpmprun")
	sys.SMDDPMPRun = err == nil
	if gpus != nil {
		sys.NumGPUs = <-gpus
	}
	return sys
}

// NumCPUs is Python's os.cpu_count() on Linux: the CPUs listed in
// /sys/devices/system/cpu/online, which ignores the affinity mask (unlike
// runtime.NumCPU, the fallback elsewhere).
func NumCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		if !isRange {
			hi = lo
		}
		z, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || z < a {
			return runtime.NumCPU()
		}
		n += z - a + 1
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// NumGPUs counts the lines starting "GPU " that `nvidia-smi --list-gpus`
// prints; 0 when nvidia-smi is missing or fails.
func NumGPUs(ctx context.Context) int {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return 0
	}
	out, err := exec.CommandContext(ctx, path, "--list-gpus").Output()
	if err != nil {
		return 0
	}
	return CountGPUs(out)
}

// CountGPUs counts the "GPU " lines of nvidia-smi --list-gpus output.
func CountGPUs(out []byte) int {
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "GPU ") {
			n++
		}
	}
	return n
}

// NumNeurons is the toolkit's num_neurons.
func NumNeurons(ctx context.Context, instanceType string) int {
	if strings.Contains(instanceType, "trn2.48xlarge") {
		return 64
	}
	path, err := exec.LookPath("neuron-ls")
	if err != nil {
		return 0
	}
	out, err := exec.CommandContext(ctx, path, "-j").Output()
	if err != nil {
		return 0
	}
	var devices []struct {
		NCCount int `json:"nc_count"`
	}
	if json.Unmarshal(out, &devices) != nil {
		return 0
	}
	n := 0
	for _, d := range devices {
		n += d.NCCount
	}
	return n
}

// ReadConfig reads the three config files the toolkit reads, with Python's
// json semantics and their key order. A missing hyperparameters.json or
// inputdataconfig.json counts as {} and a missing resourceconfig.json as
// the single host algo-1, as package optml's LoadTraining does; run that
// first for its checks and error messages.
func ReadConfig(p optml.Paths) (Config, error) {
	var cfg Config
	var errs []error
	read := func(path string, def hyperparam.Object) hyperparam.Object {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return def
		}
		if err != nil {
			errs = append(errs, &optml.FileError{File: path, Err: err})
			return nil
		}
		v, err := hyperparam.Parse(string(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
		if err != nil {
			errs = append(errs, &optml.FileError{File: path, Err: err})
			return nil
		}
		obj, ok := v.(hyperparam.Object)
		if !ok {
			errs = append(errs, &optml.FileError{File: path, Err: errors.New("the file must hold a JSON object")})
		}
		return obj
	}
	// A value that is not a string is kept as it is, as the toolkit's
	// json.loads raises TypeError on it and keeps the value.
	cfg.Hyperparameters = read(p.Hyperparameters(), hyperparam.Object{})
	cfg.InputDataConfig = read(p.InputDataConfig(), hyperparam.Object{})
	cfg.ResourceConfig = read(p.ResourceConfig(), hyperparam.Object{
		{Key: "current_host", Value: "algo-1"},
		{Key: "hosts", Value: []any{"algo-1"}},
	})
	return cfg, errors.Join(errs...)
}
