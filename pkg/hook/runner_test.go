package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/pkg/clock"
)

func TestRunPassesArgumentsAndMinimalEnvironment(t *testing.T) {
	t.Setenv("HASUITE_TEST_DAEMON_SECRET", "must not reach scripts")
	t.Setenv("LANG", "C.UTF-8")
	dir, out := t.TempDir(), t.TempDir()
	writeScript(t, dir, "notify.sh", `
printf '%s\n' "$@" > "$OUT/args"
env > "$OUT/env"
pwd > "$OUT/pwd"
`)
	r := NewRunner(Options{ScriptsDir: dir})
	defer closeRunner(t, r)
	done, result := collect(t, 1)

	err := r.Submit("eth0/99", Job{
		Script: "notify.sh",
		Args:   []string{"master", "eth0", "99", "two words"},
		Env:    []string{"HASUITE_STATE=MASTER", "OUT=" + out},
		Done:   done,
	})
	if err != nil {
		t.Fatal(err)
	}
	res := result()
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("run failed: exit %d, %v", res.ExitCode, res.Err)
	}
	if want := filepath.Join(dir, "notify.sh"); res.Script != want || res.Key != "eth0/99" {
		t.Errorf("Result names script %q key %q, want %q and eth0/99", res.Script, res.Key, want)
	}
	if got, want := readLines(t, filepath.Join(out, "args")), []string{"master", "eth0", "99", "two words"}; !slices.Equal(got, want) {
		t.Errorf("script got args %q, want %q", got, want)
	}
	if got := readLines(t, filepath.Join(out, "pwd")); !slices.Equal(got, []string{"/"}) {
		t.Errorf("script ran in %q, want /", got)
	}
	env := readLines(t, filepath.Join(out, "env"))
	for _, want := range []string{"HASUITE_STATE=MASTER", "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"} {
		if !slices.Contains(env, want) {
			t.Errorf("script environment lacks %s: %q", want, env)
		}
	}
	for _, v := range env {
		if strings.HasPrefix(v, "HASUITE_TEST_DAEMON_SECRET=") {
			t.Errorf("daemon environment leaked into the script: %s", v)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestRunReportsFailures(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "exit3.sh", "echo 'bad config' >&2\nexit 3\n")
	notExec := filepath.Join(dir, "plain.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		script   string
		wantExit int
		wantErr  func(error) bool
		wantOut  []string
	}{
		{"exit3.sh", 3, func(err error) bool { var exit *exec.ExitError; return errors.As(err, &exit) }, []string{"bad config"}},
		{"absent.sh", -1, func(err error) bool { return errors.Is(err, ErrMissing) }, nil},
		{"plain.sh", -1, func(err error) bool { return errors.Is(err, ErrNotExecutable) }, nil},
	}
	r := NewRunner(Options{ScriptsDir: dir})
	defer closeRunner(t, r)
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			done, result := collect(t, 1)
			if err := r.Submit(tt.script, Job{Script: tt.script, Done: done}); err != nil {
				t.Fatal(err)
			}
			res := result()
			if res.ExitCode != tt.wantExit || !tt.wantErr(res.Err) {
				t.Errorf("exit %d, err %v; want exit %d and the expected error", res.ExitCode, res.Err, tt.wantExit)
			}
			if !slices.Equal(res.Output, tt.wantOut) {
				t.Errorf("output %q, want %q", res.Output, tt.wantOut)
			}
		})
	}
}

// spawnAndWait is a script that starts a long sleep in its process group,
// publishes both pids and waits; with ignoreTERM set, both ignore SIGTERM.
func spawnAndWait(out string, ignoreTERM bool) string {
	var s strings.Builder
	if ignoreTERM {
		s.WriteString("trap '' TERM\n")
	}
	s.WriteString("sleep 1000 &\n")
	s.WriteString(publishPID("$!", filepath.Join(out, "child")))
	s.WriteString(publishPID("$$", filepath.Join(out, "leader")))
	s.WriteString("wait\n")
	return s.String()
}

func TestTimeoutEndsTheWholeProcessGroup(t *testing.T) {
	const timeout, grace = 10 * time.Second, 3 * time.Second
	tests := []struct {
		name       string
		ignoreTERM bool
		wantKilled bool
		wantTime   time.Duration
	}{
		{"SIGTERM is enough", false, false, timeout},
		{"SIGKILL after the grace period", true, true, timeout + grace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, out := t.TempDir(), t.TempDir()
			writeScript(t, dir, "hang.sh", spawnAndWait(out, tt.ignoreTERM))
			fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			r := NewRunner(Options{ScriptsDir: dir, Clock: fake, KillGrace: grace})
			defer closeRunner(t, r)
			done, result := collect(t, 1)
			if err := r.Submit("eth0/99", Job{Script: "hang.sh", Timeout: timeout, Done: done}); err != nil {
				t.Fatal(err)
			}
			leader, child := readPID(t, filepath.Join(out, "leader")), readPID(t, filepath.Join(out, "child"))

			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := fake.BlockUntil(ctx, 1); err != nil { // the timeout
				t.Fatal(err)
			}
			fake.Advance(timeout)
			if tt.ignoreTERM {
				if err := fake.BlockUntil(ctx, 1); err != nil { // the grace period
					t.Fatal(err)
				}
				fake.Advance(grace)
			}

			res := result()
			if !res.TimedOut || res.Killed != tt.wantKilled || !errors.Is(res.Err, ErrTimedOut) {
				t.Errorf("TimedOut %v, Killed %v, Err %v; want timed out, killed %v", res.TimedOut, res.Killed, res.Err, tt.wantKilled)
			}
			if res.Duration != tt.wantTime {
				t.Errorf("Duration %v on the fake clock, want %v", res.Duration, tt.wantTime)
			}
			waitGone(t, leader, child)
		})
	}
}

func TestTimeoutOnTheRealClock(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "hang.sh", "exec sleep 1000\n")
	r := NewRunner(Options{ScriptsDir: dir})
	defer closeRunner(t, r)
	done, result := collect(t, 1)
	if err := r.Submit("k", Job{Script: "hang.sh", Timeout: 50 * time.Millisecond, Done: done}); err != nil {
		t.Fatal(err)
	}
	if res := result(); !res.TimedOut || res.Killed || !errors.Is(res.Err, ErrTimedOut) || res.Duration > patience {
		t.Errorf("got TimedOut %v, Killed %v, Err %v, Duration %v; want a timeout ended by SIGTERM",
			res.TimedOut, res.Killed, res.Err, res.Duration)
	}
}

func TestOutputIsLoggedLineByLine(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "talk.sh", `
echo "to stdout"
echo "to stderr" >&2
printf 'no newline'
`)
	rec := newRecorder()
	r := NewRunner(Options{ScriptsDir: dir, Logger: slog.New(rec)})
	defer closeRunner(t, r)
	done, result := collect(t, 1)
	if err := r.Submit("eth1/2", Job{Script: "talk.sh", Done: done}); err != nil {
		t.Fatal(err)
	}
	res := result()

	want := []string{"to stdout", "to stderr", "no newline"}
	var logged []string
	for _, r := range rec.withMsg("script output") {
		logged = append(logged, r.attrs["line"])
		if r.attrs["key"] != "eth1/2" || r.attrs["script"] != res.Script {
			t.Errorf("output line %q logged with key %q script %q, want eth1/2 and %s", r.attrs["line"], r.attrs["key"], r.attrs["script"], res.Script)
		}
	}
	if !slices.Equal(logged, want) {
		t.Errorf("logged output %q, want %q", logged, want)
	}
	if !slices.Equal(res.Output, want) || res.OutputTruncated {
		t.Errorf("Result.Output %q (truncated %v), want %q", res.Output, res.OutputTruncated, want)
	}
	if finished := rec.withMsg("script finished"); len(finished) != 1 || finished[0].attrs["exit_code"] != "0" {
		t.Errorf("want one 'script finished' line with exit_code 0, got %+v", finished)
	}
}

func TestOutputIsBounded(t *testing.T) {
	const budget, numbers = 1000, 200000
	dir := t.TempDir()
	writeScript(t, dir, "flood.sh", fmt.Sprintf(`
seq 1 %d
head -c 3000000 /dev/zero | tr '\0' y; echo
echo last
`, numbers))
	rec := newRecorder()
	r := NewRunner(Options{ScriptsDir: dir, Logger: slog.New(rec), MaxOutputBytes: budget})
	defer closeRunner(t, r)
	done, result := collect(t, 1)
	if err := r.Submit("k", Job{Script: "flood.sh", Done: done}); err != nil {
		t.Fatal(err)
	}
	res := result()
	if res.Err != nil {
		t.Fatal(res.Err)
	}

	lines := rec.withMsg("script output")
	loggedBytes := 0
	for _, l := range lines {
		loggedBytes += len(l.attrs["line"])
	}
	if loggedBytes > budget || loggedBytes < budget-10 {
		t.Errorf("logged %d bytes of output, want the budget of %d filled, not exceeded", loggedBytes, budget)
	}
	truncated := rec.withMsg("script output truncated: too much to log")
	if len(truncated) != 1 || !res.OutputTruncated {
		t.Fatalf("want one truncation note and OutputTruncated, got %d notes, %v", len(truncated), res.OutputTruncated)
	}
	if got, want := truncated[0].attrs["dropped_lines"], strconv.Itoa(numbers+2-len(lines)); got != want {
		t.Errorf("dropped_lines = %s, want %s", got, want)
	}
	if len(res.Output) != tailLines || res.Output[len(res.Output)-1] != "last" {
		t.Fatalf("Result.Output has %d lines, want %d ending with \"last\": %.200q", len(res.Output), tailLines, res.Output)
	}
	for _, l := range res.Output {
		if len(l) > maxLineBytes {
			t.Errorf("a tail line holds %d bytes, more than %d", len(l), maxLineBytes)
		}
	}
}

func TestOverlongLineIsCut(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "long.sh", "head -c 10000 /dev/zero | tr '\\0' x; echo; echo after\n")
	rec := newRecorder()
	r := NewRunner(Options{ScriptsDir: dir, Logger: slog.New(rec)})
	defer closeRunner(t, r)
	done, result := collect(t, 1)
	if err := r.Submit("k", Job{Script: "long.sh", Done: done}); err != nil {
		t.Fatal(err)
	}
	result()
	lines := rec.withMsg("script output")
	if len(lines) != 2 {
		t.Fatalf("want 2 output lines, got %d", len(lines))
	}
	if got := lines[0]; len(got.attrs["line"]) != maxLineBytes || got.attrs["cut_bytes"] != strconv.Itoa(10000-maxLineBytes) {
		t.Errorf("overlong line logged with %d bytes, cut_bytes %s; want %d and %d",
			len(got.attrs["line"]), got.attrs["cut_bytes"], maxLineBytes, 10000-maxLineBytes)
	}
	if got := lines[1].attrs["line"]; got != "after" {
		t.Errorf("line after the overlong one = %q, want \"after\"", got)
	}
}

func TestJobsForOneKeyRunOneAtATimeInOrder(t *testing.T) {
	const jobs = 40
	dir, out := t.TempDir(), t.TempDir()
	trace := filepath.Join(out, "trace")
	writeScript(t, dir, "step.sh", `echo "start $1" >> "$2"; echo "end $1" >> "$2"`+"\n")
	r := NewRunner(Options{ScriptsDir: dir, MaxPending: jobs})
	defer closeRunner(t, r)
	done, result := collect(t, jobs)

	for i := range jobs {
		if err := r.Submit("eth0/99", Job{Script: "step.sh", Args: []string{strconv.Itoa(i), trace}, Done: done}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range jobs {
		if res := result(); res.Err != nil {
			t.Fatalf("job failed: %v", res.Err)
		}
		want = append(want, fmt.Sprintf("start %d", i), fmt.Sprintf("end %d", i))
	}
	if got := readLines(t, trace); !slices.Equal(got, want) {
		t.Errorf("runs overlapped or ran out of order:\n%s", strings.Join(got, "\n"))
	}
}

func TestDifferentKeysRunConcurrently(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opening a FIFO blocks until the other end is opened too, so each
	// script finishes only if the other runs at the same time.
	writeScript(t, dir, "reader.sh", `read line < "$1"`+"\n")
	writeScript(t, dir, "writer.sh", `echo go > "$1"`+"\n")
	r := NewRunner(Options{ScriptsDir: dir})
	defer closeRunner(t, r)
	done, result := collect(t, 2)

	for key, script := range map[string]string{"eth0/1": "reader.sh", "eth0/2": "writer.sh"} {
		if err := r.Submit(key, Job{Script: script, Args: []string{fifo}, Done: done}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if res := result(); res.Err != nil {
			t.Errorf("%s for %s: %v", res.Script, res.Key, res.Err)
		}
	}
}

func TestFullQueueDropsTheOldestWaitingJob(t *testing.T) {
	const maxPending, later = 3, 9
	dir, out := t.TempDir(), t.TempDir()
	fifo := filepath.Join(out, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(out, "ran")
	writeScript(t, dir, "blocker.sh", publishPID("$$", filepath.Join(out, "started"))+
		`read line < "$1"; echo blocker >> "$2"`+"\n")
	writeScript(t, dir, "state.sh", `echo "$1" >> "$2"`+"\n")
	rec := newRecorder()
	r := NewRunner(Options{ScriptsDir: dir, Logger: slog.New(rec), MaxPending: maxPending})
	defer closeRunner(t, r)
	done, result := collect(t, later+1)

	if err := r.Submit("eth0/99", Job{Script: "blocker.sh", Args: []string{fifo, ran}, Done: done}); err != nil {
		t.Fatal(err)
	}
	readPID(t, filepath.Join(out, "started"))
	for i := 1; i <= later; i++ {
		if err := r.Submit("eth0/99", Job{Script: "state.sh", Args: []string{strconv.Itoa(i), ran}, Done: done}); err != nil {
			t.Fatal(err)
		}
	}
	release, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(release, "go")
	release.Close()

	var dropped int
	for range later + 1 {
		res := result()
		switch {
		case errors.Is(res.Err, ErrDropped):
			dropped++
			if res.ExitCode != -1 {
				t.Errorf("dropped job has exit code %d, want -1", res.ExitCode)
			}
		case res.Err != nil:
			t.Errorf("job failed: %v", res.Err)
		}
	}
	if want := later - maxPending; dropped != want {
		t.Errorf("%d jobs reported dropped, want %d", dropped, want)
	}
	if got := len(rec.withMsg("script queue full, dropping the oldest waiting run")); got != later-maxPending {
		t.Errorf("%d drop warnings logged, want %d", got, later-maxPending)
	}
	// The newest jobs survive, in order: the last state's script runs.
	if got, want := readLines(t, ran), []string{"blocker", "7", "8", "9"}; !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q", got, want)
	}
}

func TestCloseWaitsForQueuedJobs(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	writeScript(t, dir, "mark.sh", `echo "$1" >> "$2"`+"\n")
	r := NewRunner(Options{ScriptsDir: dir})
	done, result := collect(t, 3)
	for i := range 3 {
		if err := r.Submit("eth0/99", Job{Script: "mark.sh", Args: []string{strconv.Itoa(i), filepath.Join(out, "ran")}, Done: done}); err != nil {
			t.Fatal(err)
		}
	}
	closeRunner(t, r)

	for range 3 {
		if res := result(); res.Err != nil {
			t.Errorf("queued job failed: %v", res.Err)
		}
	}
	if got := readLines(t, filepath.Join(out, "ran")); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Errorf("ran %q, want all three queued jobs", got)
	}
	if err := r.Submit("eth0/99", Job{Script: "mark.sh", Done: done}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
}

func TestCloseKillsWhatIsStillRunning(t *testing.T) {
	dir := t.TempDir()
	outA, outB := t.TempDir(), t.TempDir()
	writeScript(t, dir, "hang.sh", spawnAndWait(`$1`, false))
	writeScript(t, dir, "never.sh", `touch "$1/never-ran"`+"\n")
	r := NewRunner(Options{ScriptsDir: dir})
	done, result := collect(t, 3)

	submit := func(key, script, arg string) {
		t.Helper()
		if err := r.Submit(key, Job{Script: script, Args: []string{arg}, Timeout: time.Hour, Done: done}); err != nil {
			t.Fatal(err)
		}
	}
	submit("eth0/1", "hang.sh", outA)
	submit("eth0/1", "never.sh", outA) // queued behind the hanging one
	submit("eth0/2", "hang.sh", outB)
	pids := []int{
		readPID(t, filepath.Join(outA, "leader")), readPID(t, filepath.Join(outA, "child")),
		readPID(t, filepath.Join(outB, "leader")), readPID(t, filepath.Join(outB, "child")),
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no patience at all: kill at once
	if err := r.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want context.Canceled", err)
	}

	killed := map[string]int{}
	for range 3 { // all delivered before Close returned
		res := result()
		if !errors.Is(res.Err, ErrClosed) {
			t.Errorf("%s for %s: err %v, want ErrClosed", res.Script, res.Key, res.Err)
		}
		if res.Killed {
			killed[res.Key]++
		}
	}
	if want := map[string]int{"eth0/1": 1, "eth0/2": 1}; !maps.Equal(killed, want) {
		t.Errorf("killed runs per key %v, want %v", killed, want)
	}
	if _, err := os.Stat(filepath.Join(outA, "never-ran")); err == nil {
		t.Error("the queued job ran after Close gave up")
	}
	waitGone(t, pids...)
	waitNoRunnerGoroutines(t)
}

func TestRunDoesNotWaitForeverOnOutputHeldByADaemonizedChild(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	// The child leaves the script's process group (as a daemon started by
	// an init script would) but keeps the script's stdout open.
	writeScript(t, dir, "start.sh", "setsid sleep 1000 &\n"+publishPID("$!", filepath.Join(out, "daemon"))+"echo started\n")
	rec := newRecorder()
	r := NewRunner(Options{ScriptsDir: dir, Logger: slog.New(rec)})
	defer closeRunner(t, r)
	done, result := collect(t, 1)
	if err := r.Submit("cluster/cluster1", Job{Script: "start.sh", Done: done}); err != nil {
		t.Fatal(err)
	}
	daemon := readPID(t, filepath.Join(out, "daemon"))
	t.Cleanup(func() {
		unix.Kill(daemon, unix.SIGKILL)
		waitGone(t, daemon)
	})

	res := result()
	if res.Err != nil || !slices.Equal(res.Output, []string{"started"}) {
		t.Errorf("got err %v, output %q; want success with output \"started\"", res.Err, res.Output)
	}
	if len(rec.withMsg("script exited but a process it started still holds its output open; no longer reading it")) != 1 {
		t.Error("no warning about the output held open")
	}
	if processGone(daemon) {
		t.Error("the daemonized child was killed; only a timeout may end the script's group")
	}
}
