package worker

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"time"
)

// GPUs returns the ids of the GPUs this process may use, for pinning one
// worker to each: the entries of visible (CUDA_VISIBLE_DEVICES as set, if
// non-empty), else one per line of `nvidia-smi -L`, else one per entry of
// /proc/driver/nvidia/gpus. None on a host without NVIDIA GPUs.
func GPUs(ctx context.Context, visible string) []string {
	if v := strings.TrimSpace(visible); v != "" && v != "all" {
		if v == "-1" || v == "none" {
			return nil
		}
		var ids []string
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		return ids
	}
	var ids []string
	if path, err := exec.LookPath("nvidia-smi"); err == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, path, "-L").Output(); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "GPU ") {
					ids = append(ids, itoa(len(ids)))
				}
			}
			if len(ids) > 0 {
				return ids
			}
		}
	}
	if ents, err := os.ReadDir("/proc/driver/nvidia/gpus"); err == nil {
		for range ents {
			ids = append(ids, itoa(len(ids)))
		}
	}
	return ids
}
