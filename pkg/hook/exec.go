package hook

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// outputDrainTimeout is how long a finished run waits for the end of its
// output. Only a background process that kept the script's stdout open
// (and outlived it) makes the wait last; the output pipe is then closed.
const outputDrainTimeout = time.Second

// defaultPath is the PATH scripts get when the daemon has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// run executes one job and reports how it went. It always returns with the
// script's process reaped and its output reader finished.
func (r *Runner) run(key string, job Job) (res Result) {
	path := Resolve(r.opts.ScriptsDir, job.Script)
	res = Result{Key: key, Script: path, ExitCode: -1}
	log := r.log.With("key", key, "script", path)
	if err := r.abort.Err(); err != nil {
		res.Err = fmt.Errorf("script %s for %s not run: %w", path, key, ErrClosed)
		return res
	}
	timeout := job.Timeout
	if timeout <= 0 {
		timeout = r.opts.Timeout
	}

	start := r.opts.Clock.Now()
	defer func() {
		res.Duration = r.opts.Clock.Now().Sub(start)
		logResult(log, res)
	}()

	outRead, outWrite, err := os.Pipe()
	if err != nil {
		res.Err = fmt.Errorf("creating the output pipe for script %s: %w", path, err)
		return res
	}
	defer outRead.Close()
	cmd := &exec.Cmd{
		Path: path,
		Args: append([]string{path}, job.Args...),
		Env:  append(baseEnv(), job.Env...),
		// Scripts must not depend on the daemon's working directory.
		Dir:    "/",
		Stdout: outWrite,
		Stderr: outWrite,
		// A group of its own, so a timeout reaches the script's children.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	log.Debug("running script", "args", job.Args, "timeout", timeout)
	err = cmd.Start()
	outWrite.Close() // the script holds its own copy; EOF comes when it and its children close theirs
	if err != nil {
		res.Err = startError(path, err)
		return res
	}

	output := newOutputLog(log, r.opts.MaxOutputBytes)
	outputDone := make(chan struct{})
	go func() {
		defer close(outputDone)
		output.read(outRead)
	}()

	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExitedUnreaped(pgid)
	}()

	var closed bool
	res.TimedOut, res.Killed, closed = r.supervise(pgid, timeout, exited)

	// Reap only now: until then the unreaped leader keeps its pid, and so
	// the group id, from being reused while we signal the group.
	waitErr := cmd.Wait()
	res.ExitCode = cmd.ProcessState.ExitCode()

	drain := r.opts.Clock.NewTimer(outputDrainTimeout)
	select {
	case <-outputDone:
	case <-drain.C():
		log.Warn("script exited but a process it started still holds its output open; no longer reading it")
		outRead.Close()
		<-outputDone
	}
	drain.Stop()
	res.Output, res.OutputTruncated = output.tail(), output.truncated()

	switch {
	case closed:
		res.Err = fmt.Errorf("script %s for %s killed: %w", path, key, ErrClosed)
	case res.TimedOut && res.Killed:
		res.Err = fmt.Errorf("script %s for %s %w after %v and was killed after ignoring SIGTERM for %v",
			path, key, ErrTimedOut, timeout, r.opts.KillGrace)
	case res.TimedOut:
		res.Err = fmt.Errorf("script %s for %s %w after %v and was terminated", path, key, ErrTimedOut, timeout)
	case waitErr != nil:
		res.Err = fmt.Errorf("script %s for %s failed: %w", path, key, waitErr)
	}
	return res
}

// supervise waits for the script to exit, enforcing its timeout: SIGTERM to
// the group, then SIGKILL to whatever is left of it when the script exits or
// the grace period ends. If the Runner is closed meanwhile the group is
// killed at once. It returns once the script has exited.
func (r *Runner) supervise(pgid int, timeout time.Duration, exited <-chan struct{}) (timedOut, killed, closed bool) {
	deadline := r.opts.Clock.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-exited:
		return false, false, false
	case <-r.abort.Done():
		signalGroup(pgid, unix.SIGKILL)
		<-exited
		return false, true, true
	case <-deadline.C():
	}

	signalGroup(pgid, unix.SIGTERM)
	grace := r.opts.Clock.NewTimer(r.opts.KillGrace)
	defer grace.Stop()
	select {
	case <-exited:
		// Children that outlived SIGTERM do not get to outlive the script.
		signalGroup(pgid, unix.SIGKILL)
		return true, false, false
	case <-grace.C():
	case <-r.abort.Done():
		closed = true
	}
	signalGroup(pgid, unix.SIGKILL)
	<-exited
	return true, true, closed
}

func signalGroup(pgid int, sig unix.Signal) {
	// ESRCH only means the group is already gone.
	_ = unix.Kill(-pgid, sig)
}

// waitExitedUnreaped blocks until process pid has exited, leaving it
// unreaped (WNOWAIT) for exec.Cmd.Wait.
func waitExitedUnreaped(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// startError explains a failed start, preferring Check's advice because
// the usual cause is a script removed or changed since the config was
// validated.
func startError(path string, err error) error {
	if checkErr := Check(path); checkErr != nil {
		return fmt.Errorf("starting script: %w", checkErr)
	}
	return fmt.Errorf("starting script %s: %w", path, err)
}

// baseEnv is the environment every script starts from: nothing the daemon
// inherited except PATH and LANG, so scripts behave the same whether the
// daemon was started by systemd or from an admin's shell.
func baseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path}
	if lang, ok := os.LookupEnv("LANG"); ok {
		env = append(env, "LANG="+lang)
	}
	return env
}

func logResult(log *slog.Logger, res Result) {
	attrs := []any{"exit_code", res.ExitCode, "duration", res.Duration}
	if res.Err == nil {
		log.Info("script finished", attrs...)
		return
	}
	log.Warn("script failed", append(attrs, "timed_out", res.TimedOut, "killed", res.Killed, "err", res.Err)...)
}
