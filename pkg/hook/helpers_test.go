package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// patience bounds every wait in these tests: generous, because the machine
// is shared, and only ever reached when something is broken.
const patience = 30 * time.Second

// writeScript creates an executable shell script in dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// logRecord is one captured log line, attributes rendered as strings.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler keeping every record for inspection.
type recorder struct {
	mu      *sync.Mutex
	records *[]logRecord
	attrs   []slog.Attr
}

func newRecorder() *recorder {
	return &recorder{mu: new(sync.Mutex), records: new([]logRecord)}
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	clone := *h
	clone.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &clone
}

func (h *recorder) WithGroup(string) slog.Handler { return h }

// withMsg returns the records with message msg, in logging order.
func (h *recorder) withMsg(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.records {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// collect returns a Done callback and a way to receive what it was given.
func collect(t *testing.T, capacity int) (func(Result), func() Result) {
	ch := make(chan Result, capacity)
	receive := func() Result {
		t.Helper()
		select {
		case res := <-ch:
			return res
		case <-time.After(patience):
			t.Fatal("no Result delivered")
			return Result{}
		}
	}
	return func(res Result) { ch <- res }, receive
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readPID waits for a script to publish a pid in file (written to a
// temporary name and renamed, so it is never seen half-written).
func readPID(t *testing.T, file string) int {
	t.Helper()
	var pid int
	waitFor(t, file, func() bool {
		data, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	return pid
}

// publishPID is the shell snippet matching readPID.
func publishPID(pidExpr, file string) string {
	return fmt.Sprintf("echo %s > %q.tmp && mv %q.tmp %q\n", pidExpr, file, file, file)
}

// processGone reports whether pid no longer runs. A zombie counts as gone:
// it runs nothing, and reaping orphans is up to whatever init this machine
// has.
func processGone(pid int) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		waitFor(t, fmt.Sprintf("process %d to end", pid), func() bool { return processGone(pid) })
	}
}

// waitNoRunnerGoroutines fails the test if goroutines the Runner started
// outlive it.
func waitNoRunnerGoroutines(t *testing.T) {
	t.Helper()
	var leaked string
	deadline := time.Now().Add(patience)
	for {
		leaked = runnerGoroutines()
		if leaked == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines started by the Runner are still running:\n%s", leaked)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runnerGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by github.com/hasuite/hasuite/pkg/hook.(*Runner)") {
			leaked = append(leaked, g)
		}
	}
	return strings.Join(leaked, "\n\n")
}

func closeRunner(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitNoRunnerGoroutines(t)
}
