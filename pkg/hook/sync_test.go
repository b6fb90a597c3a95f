package hook

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestRunWaitsForTheResult(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "ok.sh", `echo "started $1"`)
	writeScript(t, dir, "fail.sh", `echo "cannot start" >&2; exit 3`)
	r := NewRunner(Options{ScriptsDir: dir})
	defer closeRunner(t, r)

	tests := []struct {
		name     string
		script   string
		wantExit int
		wantOut  []string
		wantErr  bool
	}{
		{"success", "ok.sh", 0, []string{"started ipsec"}, false},
		{"failure keeps exit code and output", "fail.sh", 3, []string{"cannot start"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var called bool
			res := r.Run(context.Background(), "cluster1", Job{Script: tc.script, Args: []string{"ipsec"},
				Done: func(Result) { called = true }})
			if res.ExitCode != tc.wantExit || (res.Err != nil) != tc.wantErr || !slices.Equal(res.Output, tc.wantOut) {
				t.Errorf("Run = exit %d, err %v, output %q; want exit %d, error %v, output %q",
					res.ExitCode, res.Err, res.Output, tc.wantExit, tc.wantErr, tc.wantOut)
			}
			if !called {
				t.Error("the job's own Done was not called")
			}
		})
	}
}

func TestRunDeadlineTerminatesTheScript(t *testing.T) {
	dir := t.TempDir()
	out := t.TempDir()
	writeScript(t, dir, "hang.sh", publishPID("$$", filepath.Join(out, "pid"))+"exec sleep 300\n")
	r := NewRunner(Options{ScriptsDir: dir, KillGrace: time.Second})
	defer closeRunner(t, r)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := r.Run(ctx, "k", Job{Script: "hang.sh"})
	if !res.TimedOut || !errors.Is(res.Err, ErrTimedOut) {
		t.Errorf("Run = %+v, want a timed-out result", res)
	}
	waitGone(t, readPID(t, filepath.Join(out, "pid")))
}

func TestRunCancelReturnsAtOnce(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "slow.sh", "sleep 2\n")
	r := NewRunner(Options{ScriptsDir: dir})
	defer closeRunner(t, r)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := r.Run(ctx, "k", Job{Script: "slow.sh"})
	if !errors.Is(res.Err, context.Canceled) || res.ExitCode != -1 {
		t.Errorf("Run with a cancelled context = %+v, want context.Canceled", res)
	}
}

func TestRunAfterClose(t *testing.T) {
	r := NewRunner(Options{ScriptsDir: t.TempDir()})
	closeRunner(t, r)
	if res := r.Run(context.Background(), "k", Job{Script: "x"}); !errors.Is(res.Err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", res.Err)
	}
}
