package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/pkg/clock"
)

// Notifier speaks systemd's notify protocol (sd_notify(3)) for Type=notify
// units, without a dependency: datagrams to the unix socket named by
// NOTIFY_SOCKET, a path or an abstract name starting with '@'. When the
// daemon was not started by systemd every method is a no-op.
type Notifier struct {
	socket   string
	watchdog time.Duration // 0: systemd expects no watchdog pings
}

// NotifierFromEnv reads NOTIFY_SOCKET, and WATCHDOG_USEC and WATCHDOG_PID
// for the watchdog.
func NotifierFromEnv() *Notifier {
	n := &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
	usec, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 63)
	// WATCHDOG_PID names the process the watchdog is for; without it, us.
	forUs := true
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" {
		forUs = pid == strconv.Itoa(os.Getpid())
	}
	if err == nil && usec > 0 && forUs {
		n.watchdog = time.Duration(usec) * time.Microsecond
	}
	return n
}

// Enabled reports whether systemd is listening.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// Ready tells systemd that start-up is complete.
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Status sets the one-line status systemctl status shows.
func (n *Notifier) Status(status string) error {
	return n.Send("STATUS=" + strings.ReplaceAll(status, "\n", " "))
}

// Reloading tells systemd a reload (SIGHUP) has begun; send Ready when it
// is done.
func (n *Notifier) Reloading() error {
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
		return fmt.Errorf("reading the monotonic clock for RELOADING: %w", err)
	}
	return n.Send("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", now.Nano()/1000))
}

// Stopping tells systemd that shutdown has begun.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Watchdog pings the service watchdog.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// Send sends assignments such as "READY=1" in one datagram.
func (n *Notifier) Send(assignments ...string) error {
	if !n.Enabled() {
		return nil
	}
	if !strings.HasPrefix(n.socket, "/") && !strings.HasPrefix(n.socket, "@") {
		return fmt.Errorf("NOTIFY_SOCKET %q is neither a socket path nor an abstract name starting with @", n.socket)
	}
	// Go maps a leading '@' to the abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n"))); err != nil {
		return fmt.Errorf("notifying systemd at %s: %w", n.socket, err)
	}
	return nil
}

// WatchdogInterval returns how often RunWatchdog pings: half of
// WATCHDOG_USEC, as sd_watchdog_enabled(3) advises. It is 0 when systemd
// expects no pings.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog / 2 }

// RunWatchdog pings the watchdog every WatchdogInterval until ctx ends,
// skipping a ping whenever healthy (if not nil) returns false, so that a
// daemon whose main loop is stuck gets restarted. Without a watchdog it
// returns nil at once. It returns nil when ctx ends, or the error of a
// failed ping: systemd's socket is gone and no later ping can succeed.
func (n *Notifier) RunWatchdog(ctx context.Context, clk clock.Clock, healthy func() bool) error {
	if n.watchdog == 0 || !n.Enabled() {
		return nil
	}
	ticker := clk.NewTicker(n.WatchdogInterval())
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
			if healthy != nil && !healthy() {
				continue
			}
			if err := n.Watchdog(); err != nil {
				return err
			}
		}
	}
}
