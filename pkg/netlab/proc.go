package netlab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// statFields is /proc/PID/stat after the command name, which may hold
// spaces and parentheses: fields[0] is the state (field 3 of proc(5)),
// fields[1] the parent, fields[11] utime, fields[12] stime, fields[19]
// starttime.
func statFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	end := strings.LastIndexByte(string(data), ')')
	if end < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(data[end+1:])), nil
}

// ProcessTree is pid and its descendants (keepalived runs as a parent and
// a VRRP child): what counts for a daemon's memory, CPU and SIGKILL.
func ProcessTree(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fields, err := statFields(p)
		if err != nil || len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree) && i < 1000; i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100 on
// every Linux ABI).
const userHZ = 100

// CPUTime is the user+system CPU time pids used so far.
func CPUTime(pids []int) (time.Duration, error) {
	var ticks int64
	for _, pid := range pids {
		fields, err := statFields(pid)
		if err != nil {
			return 0, err
		}
		if len(fields) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
		}
		for _, f := range fields[11:13] {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
			}
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// RSS is the summed VmRSS of pids, in bytes.
func RSS(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		v, err := vmRSS(string(b))
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
		total += v
	}
	return total, nil
}

// vmRSS is the VmRSS line of a /proc/PID/status, in bytes.
func vmRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "13312 kB"
			if len(f) == 0 {
				return 0, errors.New("empty VmRSS")
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS (a zombie?)")
}
