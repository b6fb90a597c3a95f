package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// realtimeRescan is how often threads the runtime started since are put
// under the real-time policy too.
const realtimeRescan = time.Second

// Realtime runs every thread of the process under SCHED_RR at priority
// (1-99) until ctx ends, as keepalived's vrrp_rt_priority does: on a busy
// machine a daemon sending adverts every 10 ms must not wait behind
// CPU-bound work for its turn, or its peers see it as dead.
//
// The policy carries SCHED_RESET_ON_FORK, so the scripts a daemon starts
// run under the normal policy. That flag also applies to the threads the Go
// runtime starts later, which is why the threads are rescanned every second
// and the new ones set too.
func Realtime(ctx context.Context, priority int, log *slog.Logger) error {
	if priority < 1 || priority > 99 {
		return fmt.Errorf("real-time priority %d out of range: use 1-99 (0 turns it off)", priority)
	}
	if err := setRealtime(priority); err != nil {
		return err
	}
	go func() {
		tick := time.NewTicker(realtimeRescan)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := setRealtime(priority); err != nil {
					log.Warn("cannot keep every thread under the real-time policy", "err", err)
				}
			}
		}
	}()
	return nil
}

// setRealtime puts every thread not yet under SCHED_RR at priority there.
func setRealtime(priority int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list the process's threads: %w", err)
	}
	attr := unix.SchedAttr{Policy: unix.SCHED_RR, Priority: uint32(priority), Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if cur, err := unix.SchedGetAttr(tid, 0); err == nil && cur.Policy == unix.SCHED_RR && cur.Priority == uint32(priority) {
			continue
		}
		a := attr
		if err := unix.SchedSetAttr(tid, &a, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue // the thread ended meanwhile
			}
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("set the real-time policy: %w (needs CAP_SYS_NICE; under systemd add it to the unit's capabilities, or leave --realtime-priority at 0)", err)
			}
			return fmt.Errorf("set the real-time policy of thread %d: %w", tid, err)
		}
	}
	return nil
}
