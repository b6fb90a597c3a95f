package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/clock"
)

const patience = 30 * time.Second

// listenNotify plays systemd: a unixgram socket NOTIFY_SOCKET points at.
func listenNotify(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierSends(t *testing.T) {
	sockets := map[string]string{
		"path":     filepath.Join(t.TempDir(), "notify.sock"),
		"abstract": fmt.Sprintf("@hasuite-test-notify-%d-%d", os.Getpid(), time.Now().UnixNano()),
	}
	for kind, name := range sockets {
		t.Run(kind, func(t *testing.T) {
			systemd := listenNotify(t, name)
			n := NotifierFromEnv()
			if !n.Enabled() {
				t.Fatal("Notifier disabled with NOTIFY_SOCKET set")
			}
			tests := []struct {
				send func() error
				want string // a prefix for RELOADING, whose timestamp varies
			}{
				{n.Ready, "READY=1"},
				{func() error { return n.Status("2 groups\nMASTER") }, "STATUS=2 groups MASTER"},
				{n.Watchdog, "WATCHDOG=1"},
				{n.Reloading, "RELOADING=1\nMONOTONIC_USEC="},
				{n.Stopping, "STOPPING=1"},
			}
			for _, tt := range tests {
				if err := tt.send(); err != nil {
					t.Fatal(err)
				}
				if got := receive(t, systemd); got != tt.want && !(strings.HasSuffix(tt.want, "=") && strings.HasPrefix(got, tt.want)) {
					t.Errorf("systemd received %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestNotifierWithoutSystemdIsANoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := NotifierFromEnv()
	if n.Enabled() {
		t.Error("Enabled() with no NOTIFY_SOCKET")
	}
	if err := n.Ready(); err != nil {
		t.Errorf("Ready() without systemd = %v", err)
	}
	if err := n.RunWatchdog(context.Background(), clock.Real(), nil); err != nil {
		t.Errorf("RunWatchdog without systemd = %v", err)
	}
}

func TestNotifierRejectsUnknownSocketKinds(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	if err := NotifierFromEnv().Ready(); err == nil || !strings.Contains(err.Error(), "neither a socket path") {
		t.Errorf("Ready() to a vsock address = %v, want an explanation", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name      string
		usec, pid string
		want      time.Duration
	}{
		{"no watchdog", "", "", 0},
		{"for us", "4000000", strconv.Itoa(os.Getpid()), 2 * time.Second},
		{"for us, no pid given", "500000", "", 250 * time.Millisecond},
		{"for another process", "4000000", "1", 0},
		{"garbage", "soon", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			if got := NotifierFromEnv().WatchdogInterval(); got != tt.want {
				t.Errorf("WatchdogInterval() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRunWatchdogPingsOnlyWhenHealthy(t *testing.T) {
	systemd := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
	t.Setenv("WATCHDOG_USEC", "2000000")
	n := NotifierFromEnv()
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	// The first check fails, the second passes: exactly one ping.
	checked := make(chan struct{})
	checks := 0
	healthy := func() bool {
		checks++
		checked <- struct{}{}
		return checks > 1
	}
	stopped := make(chan error)
	runCtx, stop := context.WithCancel(ctx)
	go func() { stopped <- n.RunWatchdog(runCtx, fake, healthy) }()

	for range 2 {
		if err := fake.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		fake.Advance(n.WatchdogInterval())
		select {
		case <-checked:
		case <-ctx.Done():
			t.Fatal("the watchdog did not check health on its tick")
		}
	}
	if got := receive(t, systemd); got != "WATCHDOG=1" {
		t.Errorf("systemd received %q, want WATCHDOG=1", got)
	}
	stop()
	if err := <-stopped; err != nil {
		t.Errorf("RunWatchdog = %v after its context ended, want nil", err)
	}
	// Every send happened before RunWatchdog returned: anything queued now
	// would be a ping for the unhealthy tick.
	systemd.SetReadDeadline(time.Now())
	if n, err := systemd.Read(make([]byte, 64)); err == nil {
		t.Errorf("a second ping arrived (%d bytes) although one check failed", n)
	}
}
