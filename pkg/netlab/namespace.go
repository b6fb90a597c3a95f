package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces live, as `ip netns` expects.
const netnsDir = "/run/netns"

// onLockedThread runs f in a new goroutine locked to its OS thread and puts
// the thread back into the network namespace it started in. f may switch the
// thread's namespace; nothing else ever runs in it meanwhile. If the thread
// cannot be put back it stays locked, so the runtime discards it when the
// goroutine ends instead of reusing a thread in a foreign namespace. A panic
// in f is re-raised in the caller's goroutine.
func onLockedThread(f func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		origin, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("read the thread's network namespace: %w", err)}
			return
		}
		defer origin.Close()

		var res result
		func() {
			defer func() { res.panic = recover() }()
			res.err = f()
		}()
		if err := returnTo(origin); err != nil {
			res.err = errors.Join(res.err, fmt.Errorf("return the thread to its network namespace (the thread is discarded): %w", err))
		} else {
			runtime.UnlockOSThread()
		}
		done <- res
	}()
	res := <-done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// returnTo puts the current thread back into the origin namespace, if it
// left it: setns needs CAP_SYS_ADMIN even to stay put.
func returnTo(origin netns.NsHandle) error {
	current, err := netns.Get()
	if err != nil {
		return err
	}
	defer current.Close()
	if current.Equal(origin) {
		return nil
	}
	return netns.Set(origin)
}

// inNamespace runs f on a thread switched into ns; see onLockedThread.
func inNamespace(ns netns.NsHandle, f func() error) error {
	return onLockedThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return f()
	})
}

var (
	netnsMountOnce sync.Once
	errNetnsMount  error
)

// ensureNetnsMount makes netnsDir a shared mount point, as `ip netns add`
// does before its first namespace. If netlab created namespaces in a plain
// directory, a later `ip netns add` (by anyone on the machine) would
// bind-mount netnsDir over itself, and the namespaces mounted before, hidden
// beneath, could no longer be deleted: their labs would leak.
func ensureNetnsMount() error {
	netnsMountOnce.Do(func() {
		if err := os.MkdirAll(netnsDir, 0o755); err != nil {
			errNetnsMount = err
			return
		}
		err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if errors.Is(err, unix.EINVAL) { // not a mount point yet
			if err = unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
				err = unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
			}
		}
		if err != nil {
			errNetnsMount = fmt.Errorf("make %s a shared mount point as ip netns does: %w", netnsDir, err)
		}
	})
	return errNetnsMount
}

// createNamespace creates the named network namespace and returns an open
// handle to it.
func createNamespace(name string) (netns.NsHandle, error) {
	if err := ensureNetnsMount(); err != nil {
		return netns.None(), err
	}
	handle := netns.None()
	err := onLockedThread(func() error {
		var err error
		handle, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		// NewNamed can fail after creating the mount point file; leave
		// nothing behind.
		_ = os.Remove(filepath.Join(netnsDir, name))
		return netns.None(), fmt.Errorf("create network namespace %s: %w", name, err)
	}
	return handle, nil
}

// deleteNamespace removes a named namespace. The kernel frees the namespace,
// and every link in it, once no process, socket or handle refers to it.
func deleteNamespace(name string) error {
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("delete network namespace %s: %w", name, err)
	}
	// EINVAL above means it was not mounted; the file may still be there.
	if err := os.Remove(filepath.Join(netnsDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete network namespace %s: %w", name, err)
	}
	return nil
}

// nsID identifies a network namespace independently of how it was reached.
type nsID struct{ dev, ino uint64 }

func namespaceID(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{st.Dev, st.Ino}, nil
}

// processesIn lists the processes, other than this one, whose network
// namespace is one of ids.
func processesIn(ids map[nsID]bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		// Fails for processes gone or become zombies meanwhile: neither
		// holds the namespace any more.
		if id, err := namespaceID(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ids[id] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killProcessesIn sends SIGKILL to every process in the named namespaces and
// waits until they are gone, so deleting the namespaces frees them.
func killProcessesIn(names []string) error {
	ids := map[nsID]bool{}
	for _, name := range names {
		if id, err := namespaceID(filepath.Join(netnsDir, name)); err == nil {
			ids[id] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	const patience = 10 * time.Second
	return Poll(context.Background(), patience, func() (bool, string) {
		pids := processesIn(ids)
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		return len(pids) == 0, fmt.Sprintf("processes still in the lab's namespaces: %v", pids)
	})
}

// namespacesWithPrefix lists the named namespaces belonging to the lab prefix.
func namespacesWithPrefix(prefix string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(netnsDir, prefix+"-*"))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names, nil
}
