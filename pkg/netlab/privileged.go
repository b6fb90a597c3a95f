package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RequirePrivilegedEnv names the environment variable that, set to 1, turns
// RequirePrivileged's skip into a failure, so privileged tests cannot skip
// silently where they are meant to run (make test in CI).
const RequirePrivilegedEnv = "HASUITE_REQUIRE_PRIVILEGED"

var (
	probeOnce sync.Once
	probeErr  error
)

// RequirePrivileged skips the test unless this process can do what labs
// need, found out by trying it: create a network namespace, configure a
// link in it and open a raw socket there. With HASUITE_REQUIRE_PRIVILEGED=1
// it fails the test instead of skipping.
func RequirePrivileged(tb testing.TB) {
	tb.Helper()
	probeOnce.Do(func() { probeErr = probePrivileges() })
	if probeErr == nil {
		return
	}
	msg := "netlab: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces: " + probeErr.Error()
	if os.Getenv(RequirePrivilegedEnv) == "1" {
		tb.Fatalf("%s (%s=1 forbids skipping)", msg, RequirePrivilegedEnv)
	}
	tb.Skip(msg)
}

// probePrivileges creates a throwaway namespace by unsharing a locked
// thread, which onLockedThread then moves back; the namespace vanishes with
// the handles, so a crash in between leaves nothing behind.
func probePrivileges() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("iproute2's ip runs commands in nodes: %w", err)
	}
	return onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("create a network namespace: %w", err)
		}
		nl, err := netlink.NewHandle()
		if err != nil {
			return fmt.Errorf("netlink in a new namespace: %w", err)
		}
		defer nl.Close()
		lo, err := nl.LinkByName(loopback)
		if err == nil {
			err = nl.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("configure a link: %w", err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open a raw socket: %w", err)
		}
		return unix.Close(fd)
	})
}
