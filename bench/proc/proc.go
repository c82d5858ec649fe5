// Package proc starts the stacks under benchmark as process groups, waits
// for their first healthy /ping, measures their memory and kills them.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Spec is one process to start.
type Spec struct {
	Path string
	Args []string
	Env  []string // the whole environment
	Dir  string
	Log  string // stdout and stderr go here
}

// Group is a set of processes started in one new process group.
type Group struct {
	Start time.Time // just before the first process was started
	pgid  int
	cmds  []*exec.Cmd
	logs  []*os.File
}

// StartGroup starts specs in order in one new process group.
func StartGroup(specs ...Spec) (*Group, error) {
	g := &Group{Start: time.Now()}
	for _, s := range specs {
		f, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			g.Kill()
			return nil, err
		}
		g.logs = append(g.logs, f)
		cmd := exec.Command(s.Path, s.Args...)
		cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = s.Env, s.Dir, f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid}
		if err := cmd.Start(); err != nil {
			g.Kill()
			return nil, fmt.Errorf("starting %s: %w", s.Path, err)
		}
		if g.pgid == 0 {
			g.pgid = cmd.Process.Pid
		}
		g.cmds = append(g.cmds, cmd)
	}
	return g, nil
}

// Exited reports whether a process the group started has exited (it is
// then a zombie until Kill reaps it), and which.
func (g *Group) Exited() (bool, string) {
	for _, c := range g.cmds {
		if !running(c.Process.Pid) {
			return true, filepath.Base(c.Path) + " exited"
		}
	}
	return false, ""
}

// WaitReady polls GET url every 2 ms until it answers 200 and returns the
// time since Start.
func (g *Group) WaitReady(ctx context.Context, addr, path string, timeout time.Duration) (time.Duration, error) {
	deadline := g.Start.Add(timeout)
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 64)
	last := "no answer"
	for {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no 200 from %s within %s (last: %s)", path, timeout, last)
		}
		if done, how := g.Exited(); done {
			return 0, errors.New(how)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Write(req)
			n := 0
			if err == nil {
				n, err = c.Read(buf)
			}
			c.Close()
			if n >= 12 && bytes.HasPrefix(buf[:n], []byte("HTTP/1.")) {
				if string(buf[9:12]) == "200" {
					return time.Since(g.Start), nil
				}
				last = "status " + string(buf[9:12])
			} else if err != nil {
				last = err.Error()
			}
		} else {
			last = err.Error()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Tree returns the group's live processes: every member of the process
// group and every descendant of its processes, wherever they moved.
func (g *Group) Tree() []int {
	type stat struct{ ppid, pgrp int }
	all := map[int]stat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 4 || string(f[0]) == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		pgrp, _ := strconv.Atoi(string(f[2]))
		all[pid] = stat{ppid, pgrp}
	}
	in := map[int]bool{}
	for pid, s := range all {
		if s.pgrp == g.pgid && g.pgid != 0 {
			in[pid] = true
		}
	}
	for _, c := range g.cmds {
		if _, ok := all[c.Process.Pid]; ok {
			in[c.Process.Pid] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for pid, s := range all {
			if !in[pid] && in[s.ppid] {
				in[pid] = true
				grew = true
			}
		}
	}
	pids := make([]int, 0, len(in))
	for pid := range in {
		pids = append(pids, pid)
	}
	return pids
}

// PSS returns the summed proportional set size of the group's processes,
// from /proc/PID/smaps_rollup, and how many processes there were.
func (g *Group) PSS() (bytesPSS int64, procs int, err error) {
	for _, pid := range g.Tree() {
		kb, err := pssKB(pid)
		if err != nil {
			continue // it exited meanwhile
		}
		bytesPSS += kb << 10
		procs++
	}
	if procs == 0 {
		return 0, 0, errors.New("no live process in the group")
	}
	return bytesPSS, procs, nil
}

func pssKB(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("Pss:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(string(f[0]), 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no Pss line for pid %d", pid)
}

// Kill stops every process of the group: SIGTERM to the processes it
// started (as docker stop signals a container's first process), up to 3 s
// for them to exit, then SIGKILL to the process group and to every process
// of the tree as it was before. It returns the pids still alive afterwards
// (none, normally).
func (g *Group) Kill() []int {
	pids := g.Tree()
	for _, c := range g.cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() {
		for _, c := range g.cmds {
			c.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	if g.pgid != 0 {
		syscall.Kill(-g.pgid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	<-done
	for _, f := range g.logs {
		f.Close()
	}
	// Children reparented to init may take a moment to be reaped.
	var alive []int
	for range 50 {
		alive = alive[:0]
		for _, pid := range pids {
			if running(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return alive
}

func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// CPU returns the CPU time (user plus system, all threads) the group's live
// processes have used so far, summed by command name. A process that
// exited takes its time with it, so take two readings around a stretch
// of steady work.
func (g *Group) CPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, pid := range g.Tree() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue // it exited meanwhile
		}
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		// After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags,
		// minflt, cminflt, majflt, cmajflt, utime, stime.
		f := bytes.Fields(b[close+1:])
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
		st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out[string(b[open+1:close])] += time.Duration(ut+st) * clockTick
	}
	return out
}
