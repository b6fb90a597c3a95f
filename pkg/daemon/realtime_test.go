package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRealtimeRejectsPriorities(t *testing.T) {
	for _, p := range []int{-1, 0, 100} {
		if err := Realtime(t.Context(), p, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("Realtime(%d) succeeded, want a range error", p)
		}
	}
}

// TestRealtimeThreadsAndChildren runs in a child process (the policy would
// otherwise stay on the test binary): every thread ends under SCHED_RR,
// including threads started afterwards, and a child process does not.
func TestRealtimeThreadsAndChildren(t *testing.T) {
	if os.Getenv("HASUITE_REALTIME_CHILD") == "1" {
		realtimeChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs CAP_SYS_NICE")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealtimeThreadsAndChildren$", "-test.v")
	cmd.Env = append(os.Environ(), "HASUITE_REALTIME_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func realtimeChild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Realtime(ctx, 10, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	// Make the runtime start threads: blocking syscalls on many goroutines.
	done := make(chan struct{})
	for range 8 {
		go func() {
			var ts unix.Timespec
			ts.Nsec = int64(50 * time.Millisecond)
			_ = unix.Nanosleep(&ts, nil)
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		notRT := threadsNotRealtime(t)
		if len(notRT) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %v are not under SCHED_RR after %v", notRT, 10*time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command("sh", "-c", "cat /proc/$$/sched | grep '^policy'").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if fields := strings.Fields(string(out)); len(fields) < 3 || fields[2] != "0" {
		t.Errorf("a child process runs with %q, want the normal policy 0", strings.TrimSpace(string(out)))
	}
}

func threadsNotRealtime(t *testing.T) []int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var not []int
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if a, err := unix.SchedGetAttr(tid, 0); err == nil && a.Policy != unix.SCHED_RR {
			not = append(not, tid)
		}
	}
	return not
}
