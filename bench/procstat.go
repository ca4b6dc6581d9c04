//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// listenAddr finds the TCP port a process listens on from /proc: the
// binaries log their bound address at info level only, which LOG_LEVEL=warn
// hides. It returns "" while the process has not listened yet.
func listenAddr(pid int) (string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return "", nil // exited meanwhile or not set up yet; the caller checks
	}
	sockets := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			sockets[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return "", fmt.Errorf("read tcp table: %w", err)
	}
	// Lines: sl local_address rem_address st ... inode, addresses in hex.
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !sockets[f[9]] { // 0A: LISTEN
			continue
		}
		_, portHex, _ := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			return "", fmt.Errorf("parse tcp table line %q: %w", line, err)
		}
		// Every *_ADDR is 127.0.0.1:0, so only the port is unknown.
		return fmt.Sprintf("127.0.0.1:%d", port), nil
	}
	return "", nil
}

// peakRSSMB is the process's peak resident set (VmHWM) in MiB.
func peakRSSMB(pid int) (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("parse %q: %w", line, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// clockTick is USER_HZ, the unit of /proc CPU times; it is 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// cpuTime is the user+system CPU a process has used so far.
func cpuTime(pid string) (time.Duration, string, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, "", err
	}
	// "pid (comm) state ppid ...": comm may hold spaces, so split after it.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return 0, "", fmt.Errorf("parse /proc/%s/stat", pid)
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 13 {
		return 0, "", fmt.Errorf("parse /proc/%s/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, "", fmt.Errorf("parse /proc/%s/stat times", pid)
	}
	return time.Duration(utime+stime) * clockTick, string(stat[open+1 : end]), nil
}

// cpuGroups are the consumers of CPU a run reports, in print order.
var cpuGroups = []string{"api", "worker", "scheduler", "postgres", "redis", "bench"}

// cpuSnapshot is CPU used so far by each group, and the machine's busy and
// total time, so two snapshots tell where a run's CPU went.
type cpuSnapshot struct {
	groups      map[string]time.Duration
	busy, total time.Duration
}

// snapshotCPU reads the service's processes by pid, and PostgreSQL and
// Redis by process name: they are shared servers, so their figures include
// anything else the machine runs, and a backend that exits takes its time
// with it.
func snapshotCPU(s *system) cpuSnapshot {
	snap := cpuSnapshot{groups: map[string]time.Duration{}}
	byPid := map[string]string{strconv.Itoa(os.Getpid()): "bench"}
	for _, p := range s.all {
		byPid[strconv.Itoa(p.Cmd.Process.Pid)] = p.Name
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		d, comm, err := cpuTime(pid)
		if err != nil {
			continue // exited between the listing and the read
		}
		switch {
		case byPid[pid] != "":
			snap.groups[byPid[pid]] += d
		case comm == "postgres":
			snap.groups["postgres"] += d
		case comm == "redis-server":
			snap.groups["redis"] += d
		}
	}
	snap.busy, snap.total = machineCPU()
	return snap
}

// machineCPU sums the first line of /proc/stat: busy is everything but idle
// and iowait.
func machineCPU() (busy, total time.Duration) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	for i, v := range strings.Fields(sc.Text())[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest times are already counted in user
			break
		}
		d := time.Duration(n) * clockTick
		total += d
		if i != 3 && i != 4 {
			busy += d
		}
	}
	return busy, total
}

// cpuUsage is the CPU of one run, from two snapshots.
type cpuUsage struct {
	groups   map[string]time.Duration
	busyFrac float64 // share of the machine's CPU time that was busy
}

func (a cpuSnapshot) until(b cpuSnapshot) cpuUsage {
	u := cpuUsage{groups: map[string]time.Duration{}}
	for _, g := range cpuGroups {
		u.groups[g] = b.groups[g] - a.groups[g]
	}
	if total := b.total - a.total; total > 0 {
		u.busyFrac = float64(b.busy-a.busy) / float64(total)
	}
	return u
}

func (u cpuUsage) String() string {
	var b strings.Builder
	for _, g := range cpuGroups {
		fmt.Fprintf(&b, "%s %.1f, ", g, u.groups[g].Seconds())
	}
	fmt.Fprintf(&b, "machine busy %.0f%%", 100*u.busyFrac)
	return b.String()
}
