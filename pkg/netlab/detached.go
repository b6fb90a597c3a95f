package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/pkg/atomicfile"
)

// Detached is a process started in a node with Node.StartDetached. Unlike a
// Process it outlives the program that started it: `lab up` exits and the
// daemons keep running. What finds it again is its pid file in the lab's
// state directory; `lab down`, Destroy and Sweep stop it through that.
type Detached struct {
	Lab  string // the lab's prefix
	Node string // the node's name in the topology ("r1")
	Name string // the name it was started under ("vrrpd")
	PID  int
	// PIDFile holds the PID alone, so `kill $(cat FILE)` works by hand.
	PIDFile string
	// LogFile receives the process's stdout and stderr, appended.
	LogFile string
}

// DetachOptions tune StartDetached.
type DetachOptions struct {
	// Name identifies the process within its node, so that it can be
	// found again: lowercase letters, digits and '-'. A node runs at most
	// one live process per name.
	Name string
	// LogFile receives stdout and stderr; empty: <node>-<name>.log in the
	// lab's state directory (see DetachedDir). Elsewhere, a symbolic link
	// of that name points at it, so FindDetached finds it.
	LogFile string
}

var detachedNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// DetachedDir is where a lab keeps the pid files and default logs of its
// detached processes: <registry>/<prefix>.d, next to the lab's record and
// removed with it by Destroy. Sweep skips it: it is no lab prefix.
func DetachedDir(prefix string) string { return filepath.Join(registryDir, prefix+".d") }

func detachedBase(prefix, node, name string) string {
	return filepath.Join(DetachedDir(prefix), node+"-"+name)
}

// StartDetached starts a program in the node that survives this program: a
// session and process group of its own (so no terminal's hangup or Ctrl-C
// reaches it and Stop reaches its children), no parent-death signal, stdin
// from /dev/null, stdout and stderr appended to a log file, and a pid file.
// It returns once the process runs in the node, not once it is ready: wait
// for that the program's own way (its socket, its log).
func (n *Node) StartDetached(opts DetachOptions, path string, args ...string) (*Detached, error) {
	if !detachedNameRE.MatchString(opts.Name) {
		return nil, fmt.Errorf("node %s: detached process name %q: want lowercase letters, digits and '-', starting with a letter", n.spec.Name, opts.Name)
	}
	d := &Detached{Lab: n.lab.prefix, Node: n.spec.Name, Name: opts.Name, LogFile: opts.LogFile}
	base := detachedBase(d.Lab, d.Node, d.Name)
	d.PIDFile = base + ".pid"
	if d.LogFile == "" {
		d.LogFile = base + ".log"
	}
	if old, err := readDetached(d.Lab, d.PIDFile); err == nil && old.Running() {
		return nil, fmt.Errorf("node %s: %s already runs as PID %d (pid file %s): stop it first", d.Node, d.Name, old.PID, d.PIDFile)
	}
	if err := os.MkdirAll(DetachedDir(d.Lab), 0o755); err != nil {
		return nil, fmt.Errorf("node %s: start %s: create the lab's state directory: %w", d.Node, d.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(d.LogFile), 0o755); err != nil {
		return nil, fmt.Errorf("node %s: start %s: create the log's directory: %w", d.Node, d.Name, err)
	}
	logFile, err := os.OpenFile(d.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("node %s: start %s: %w", d.Node, d.Name, err)
	}
	if link := base + ".log"; d.LogFile != link {
		_ = os.Remove(link)
		if err := os.Symlink(d.LogFile, link); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("node %s: start %s: link its log: %w", d.Node, d.Name, err)
		}
	}
	defer logFile.Close() // the child has its own copy
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devNull.Close()

	// Not CommandContext: nothing of ours may end it. `ip netns exec`
	// execs the program itself, so the PID is the program's.
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, path}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %s: start %s: %s: %w", d.Node, d.Name, commandLine(path, args), err)
	}
	d.PID = cmd.Process.Pid
	// Reap it if it exits while this program still runs, so that it does
	// not linger as a zombie; once this program exits, init reaps it.
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	if err := d.waitInNode(exited); err != nil {
		_ = unix.Kill(-d.PID, unix.SIGKILL)
		return nil, err
	}
	// Written whole, so that a reader never sees a partial pid file; 0644
	// like the log beside it.
	if err := atomicfile.Write(d.PIDFile, []byte(strconv.Itoa(d.PID)+"\n"), 0o644); err != nil {
		_ = unix.Kill(-d.PID, unix.SIGKILL)
		return nil, fmt.Errorf("node %s: start %s: write the pid file: %w", d.Node, d.Name, err)
	}
	return d, nil
}

// enterTimeout bounds how long `ip netns exec` may take to enter the node.
const enterTimeout = 10 * time.Second

// waitInNode waits until `ip netns exec` has moved the process into the
// node's namespace. Until then Running says no, and Destroy, which finds
// processes by namespace, would miss it: it would enter the namespace once
// deleted and live on in it, unnamed.
func (d *Detached) waitInNode(exited <-chan struct{}) error {
	err := Poll(context.Background(), enterTimeout, func() (bool, string) {
		select {
		case <-exited:
			return true, ""
		default:
		}
		return d.Running(), "not yet in the node's namespace"
	})
	select {
	case <-exited:
		return fmt.Errorf("node %s: %s exited at once; its log %s ends:\n%s", d.Node, d.Name, d.LogFile, logTail(d.LogFile))
	default:
	}
	if err != nil {
		return fmt.Errorf("node %s: start %s: %w", d.Node, d.Name, err)
	}
	return nil
}

// logTail is the end of a log, for errors.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const most = 2000
	return string(data[max(0, len(data)-most):])
}

// FindDetached lists the detached processes recorded for the lab, running
// or not, in the order of their pid files' names. A lab without any yields
// none and no error.
func FindDetached(prefix string) ([]*Detached, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(DetachedDir(prefix), "*.pid"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var found []*Detached
	var errs []error
	for _, p := range paths {
		d, err := readDetached(prefix, p)
		if errors.Is(err, os.ErrNotExist) {
			continue // stopped meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = append(found, d)
	}
	return found, errors.Join(errs...)
}

// readDetached reads a pid file named <node>-<name>.pid (node names have
// no '-'); the log is <node>-<name>.log or where that links to.
func readDetached(prefix, pidFile string) (*Detached, error) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("pid file %s: %q is no PID: remove the file", pidFile, strings.TrimSpace(string(data)))
	}
	base := strings.TrimSuffix(pidFile, ".pid")
	node, name, _ := strings.Cut(filepath.Base(base), "-")
	logFile := base + ".log"
	if target, err := filepath.EvalSymlinks(logFile); err == nil {
		logFile = target
	}
	return &Detached{Lab: prefix, Node: node, Name: name, PID: pid, PIDFile: pidFile, LogFile: logFile}, nil
}

// Running reports whether the process still runs in its node. A PID reused
// by an unrelated process outside the lab's namespace does not count, so
// Stop never signals a stranger.
func (d *Detached) Running() bool {
	if _, err := processStart(d.PID); err != nil {
		return false // gone, or a zombie
	}
	want, err := namespaceID(filepath.Join(netnsDir, d.Lab+"-"+d.Node))
	if err != nil {
		return false // the node is gone, and with it everything in it
	}
	got, err := namespaceID(fmt.Sprintf("/proc/%d/ns/net", d.PID))
	return err == nil && got == want
}

// Signal sends sig to the process alone, if it still runs.
func (d *Detached) Signal(sig syscall.Signal) error {
	if !d.Running() {
		return fmt.Errorf("%s %s[%d]: %w", d.Node, d.Name, d.PID, os.ErrProcessDone)
	}
	if err := unix.Kill(d.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("%s %s[%d]: signal %v: %w", d.Node, d.Name, d.PID, sig, err)
	}
	return nil
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills its process group; either way it removes the pid file. It returns
// an error only when the process had to be killed or could not be.
func (d *Detached) Stop(timeout time.Duration) error {
	var stopErr error
	if d.Running() {
		_ = unix.Kill(d.PID, unix.SIGTERM)
		gone := func() (bool, string) { return !d.Running(), fmt.Sprintf("%s %s[%d] still runs", d.Node, d.Name, d.PID) }
		if Poll(context.Background(), timeout, gone) != nil {
			_ = unix.Kill(-d.PID, unix.SIGKILL)
			_ = unix.Kill(d.PID, unix.SIGKILL)
			stopErr = fmt.Errorf("%s %s[%d]: still running %v after SIGTERM, killed (its log: %s)", d.Node, d.Name, d.PID, timeout, d.LogFile)
			if err := Poll(context.Background(), timeout, gone); err != nil {
				return fmt.Errorf("%s %s[%d]: survives SIGKILL: %w", d.Node, d.Name, d.PID, err)
			}
		}
	}
	if err := os.Remove(d.PIDFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		stopErr = errors.Join(stopErr, err)
	}
	return stopErr
}

// StopDetached stops every detached process of the lab, SIGTERM first so
// daemons can resign and clean up, all at once so that their grace periods
// overlap. The pid files go; the logs stay until Destroy.
func StopDetached(prefix string, timeout time.Duration) error {
	found, err := FindDetached(prefix)
	errs := []error{err}
	results := make(chan error, len(found))
	for _, d := range found {
		go func() { results <- d.Stop(timeout) }()
	}
	for range found {
		errs = append(errs, <-results)
	}
	return errors.Join(errs...)
}

// removeDetachedState is Destroy's part, run after it has killed everything
// in the lab's namespaces, detached processes included: their pid files and
// default logs go.
func removeDetachedState(prefix string) error {
	if err := os.RemoveAll(DetachedDir(prefix)); err != nil {
		return fmt.Errorf("remove the pid files and logs of lab %s: %w", prefix, err)
	}
	return nil
}
