package owner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/client"
)

// The labels every container and network sagekit creates carries.
const (
	LabelPID   = "dev.sagekit.owner.pid"
	LabelStart = "dev.sagekit.owner.start" // clock ticks after boot, /proc/PID/stat field 22
	LabelNS    = "dev.sagekit.owner.ns"    // boot id and PID namespace, "BOOT/pid:[INODE]"
)

// Process is one process as the labels name it.
type Process struct {
	PID   int
	Start string // "" where /proc cannot tell
	NS    string // "" where /proc cannot tell
}

var self = sync.OnceValue(func() Process {
	p := Process{PID: os.Getpid()}
	p.Start, _ = startTime(p.PID)
	p.NS = namespace()
	return p
})

// Self is this process.
func Self() Process { return self() }

// Labels are the owner labels for this process.
func Labels() map[string]string {
	p := Self()
	l := map[string]string{LabelPID: strconv.Itoa(p.PID)}
	if p.Start != "" && p.NS != "" {
		l[LabelStart] = p.Start
		l[LabelNS] = p.NS
	}
	return l
}

// Dead reports whether the owner named by labels has exited: no process has
// its pid any more, or the process with that pid started at another time,
// or it is a zombie. It is false for labels of another PID namespace or
// boot, which this process cannot judge, and for incomplete labels.
func Dead(labels map[string]string) bool {
	me := Self()
	if me.NS == "" || labels[LabelNS] != me.NS || labels[LabelStart] == "" {
		return false
	}
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := startTime(pid)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errZombie) {
		return true
	}
	if err != nil {
		return false
	}
	return start != labels[LabelStart]
}

var errZombie = errors.New("zombie")

// startTime reads the start time of pid from /proc/PID/stat.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields that follow start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("reading /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (the state); the start time is field 22.
	if len(f) < 20 {
		return "", fmt.Errorf("reading /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if f[0] == "Z" || f[0] == "X" {
		return "", errZombie
	}
	return f[19], nil
}

// namespace is this process's boot id and PID namespace, or "" off Linux.
func namespace() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// Reap removes every container (running or not) and network whose owner
// labels name a process that has died, and returns what it removed
// ("container ID", "network NAME").
func Reap(ctx context.Context, dc *client.Client) ([]string, error) {
	f := make(client.Filters).Add("label", LabelPID)
	cs, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing containers to find what dead sagekit processes left: %w", err)
	}
	var removed []string
	var errs []error
	for _, c := range cs.Items {
		if !Dead(c.Labels) {
			continue
		}
		if _, err := dc.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing container %.12s left by dead process %s: %w", c.ID, c.Labels[LabelPID], err))
			continue
		}
		removed = append(removed, "container "+c.ID[:min(12, len(c.ID))])
	}
	ns, err := dc.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("listing networks to find what dead sagekit processes left: %w", err))...)
	}
	for _, n := range ns.Items {
		if !Dead(n.Labels) {
			continue
		}
		if _, err := dc.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s left by dead process %s: %w", n.Name, n.Labels[LabelPID], err))
			continue
		}
		removed = append(removed, "network "+n.Name)
	}
	return removed, errors.Join(errs...)
}

func isNotFound(err error) bool {
	var nf interface{ NotFound() }
	return errors.As(err, &nf) || strings.Contains(err.Error(), "No such") || strings.Contains(strings.ToLower(err.Error()), "not found")
}
