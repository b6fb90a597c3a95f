package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a long-running program started in a node with Node.Start. Its
// output, stdout and stderr together, goes line by line to the lab's log and
// into a buffer a test can search and wait on. The lab kills it at teardown.
type Process struct {
	node    *Node
	program string
	cmd     *exec.Cmd
	output  lineLog

	done    chan struct{}
	waitErr error // set before done is closed
}

// outputGrace bounds how long reaping a process waits for output still held
// open by children it left behind.
const outputGrace = time.Second

// Start starts a program in the node, in a process group of its own so that
// Kill reaches its children too. Like anything run by `ip netns exec`, it
// sees the node's interfaces under /sys/class/net. It dies with this
// program, even if this program crashes, and is killed when ctx ends or the
// lab is closed.
func (n *Node) Start(ctx context.Context, path string, args ...string) (*Process, error) {
	p := &Process{node: n, program: filepath.Base(path), done: make(chan struct{})}
	// `ip netns exec` enters the namespace and execs the program itself,
	// so the PID is the program's and signals reach it directly.
	p.cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, path}, args...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.cmd.Cancel = p.Kill
	p.cmd.WaitDelay = outputGrace
	p.output.logf = n.lab.logf
	p.output.label = p.label
	p.cmd.Stdout = &p.output
	p.cmd.Stderr = &p.output
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %s: start %s: %w", n.spec.Name, commandLine(path, args), err)
	}
	go p.reap()
	if err := n.lab.trackProcess(p); err != nil {
		p.killAndReap()
		return nil, err
	}
	return p, nil
}

// label names the process in log lines and errors: "r1 vrrpd[1234]". Only
// called once the process has started.
func (p *Process) label() string {
	return fmt.Sprintf("%s %s[%d]", p.node.spec.Name, p.program, p.cmd.Process.Pid)
}

func (p *Process) reap() {
	err := p.cmd.Wait()
	p.output.flush()
	status := "exited"
	if err != nil {
		status = "exited: " + err.Error()
	}
	p.node.lab.logf("%s: %s", p.label(), status)
	p.waitErr = err
	close(p.done)
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process alone.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: signal %v: %w", p.label(), sig, err)
	}
	return nil
}

// Kill sends SIGKILL to the process and everything in its process group. It
// does not wait; Wait does.
func (p *Process) Kill() error {
	err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: kill: %w", p.label(), err)
	}
	return nil
}

func (p *Process) killAndReap() {
	_ = p.Kill()
	<-p.done
}

// Wait waits for the process to exit and returns how it ended: nil for exit
// status 0, else an *exec.ExitError.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the process's exit status, or -1 while it runs or when a
// signal ended it.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills its process group. It returns how the process ended (nil for a clean
// exit), with an error saying so if it had to be killed.
func (p *Process) Stop(timeout time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.waitErr
	case <-timer.C:
		p.killAndReap()
		return fmt.Errorf("%s: still running %v after SIGTERM, killed: %w", p.label(), timeout, p.waitErr)
	}
}

// Output is everything the process has written so far.
func (p *Process) Output() string { return p.output.String() }

// Lines are the complete lines the process has written so far.
func (p *Process) Lines() []string { return p.output.Lines() }

// WaitOutput waits until the process has written a line containing substr
// and returns that line, failing the test after timeout.
func (p *Process) WaitOutput(tb testing.TB, timeout time.Duration, substr string) string {
	tb.Helper()
	var found string
	WaitFor(tb, timeout, func() (bool, string) {
		lines := p.Lines()
		for _, line := range lines {
			if strings.Contains(line, substr) {
				found = line
				return true, ""
			}
		}
		state := "running"
		if p.Exited() {
			state = "exited"
		}
		last := "(no output)"
		if len(lines) > 0 {
			last = "last line: " + lines[len(lines)-1]
		}
		return false, fmt.Sprintf("%s, %s, no line contains %q yet; %s", p.label(), state, substr, last)
	})
	return found
}

// lineLog splits a process's output into lines, logging each and keeping
// them all. Safe for concurrent use.
type lineLog struct {
	logf  func(format string, args ...any)
	label func() string

	mu      sync.Mutex
	lines   []string
	partial []byte
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(b), nil
}

// flush emits a last line that ended without a newline.
func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit(string(l.partial))
		l.partial = nil
	}
}

func (l *lineLog) emit(line string) {
	l.lines = append(l.lines, line)
	l.logf("%s: %s", l.label(), line)
}

func (l *lineLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, line := range l.lines {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.Write(l.partial)
	return b.String()
}
