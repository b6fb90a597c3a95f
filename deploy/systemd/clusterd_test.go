package systemd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clusterdShutdown is clusterd's own bound on the release at SIGTERM
// (clusterd/run.go shutdownTimeout: a 60 s script timeout and 15 s more).
const clusterdShutdown = 75 * time.Second

// TestClusterdUnit checks what the unit promises: Type=notify with reloads
// through the daemon, a stop long enough for the services to stop in
// reverse order and the leaving heartbeat (CL-B24), and no sandbox the
// admin's init and resource scripts would inherit and trip over.
func TestClusterdUnit(t *testing.T) {
	u := readUnit(t, "clusterd.service")
	want := []struct{ section, key, value string }{
		{"Service", "Type", "notify"},
		{"Service", "NotifyAccess", "main"},
		{"Service", "ExecStart", "/usr/sbin/clusterd run"},
		{"Service", "ExecReload", "/usr/sbin/clusterd reload"},
		{"Service", "KillMode", "mixed"},
		{"Service", "RuntimeDirectory", "hasuite"},
		{"Service", "RuntimeDirectoryPreserve", "yes"},
		{"Service", "StateDirectory", "hasuite/clusterd"},
		{"Unit", "After", "network-online.target"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		if got, ok := u.last(w.section, w.key); !ok || got != w.value {
			t.Errorf("[%s] %s = %q (set: %v), want %q", w.section, w.key, got, ok, w.value)
		}
	}
	// Each would break a guide service such as `ipsec` (modules, /etc,
	// capabilities, the clock of an NTP service, sockets in /tmp), or
	// hide the network from clusterd.
	for _, key := range []string{
		"CapabilityBoundingSet", "AmbientCapabilities", "ProtectSystem", "NoNewPrivileges", "PrivateTmp",
		"ProtectKernelModules", "ProtectKernelTunables", "ProtectClock", "PrivateNetwork", "PrivateDevices",
		"RestrictAddressFamilies", "SystemCallFilter", "User", "DynamicUser",
	} {
		if v, ok := u.last("Service", key); ok {
			t.Errorf("[Service] %s=%s must not be set in clusterd.service (see its comment; clusterd-hardened.conf)", key, v)
		}
	}
	stop, _ := u.last("Service", "TimeoutStopSec")
	if d, err := time.ParseDuration(stop); err != nil || d <= clusterdShutdown {
		t.Errorf("TimeoutStopSec = %q, want a duration over %v", stop, clusterdShutdown)
	}
}

// TestClusterdHardenedDropIn: the drop-in for clusters whose services are
// cluster IPs and systemd units gives least privilege, keeping what
// clusterd itself needs.
func TestClusterdHardenedDropIn(t *testing.T) {
	u := readUnit(t, "clusterd-hardened.conf")
	want := []struct{ key, value string }{
		{"CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE"},
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"RestrictAddressFamilies", "AF_UNIX AF_INET AF_NETLINK AF_PACKET"},
	}
	for _, w := range want {
		if got, ok := u.last("Service", w.key); !ok || got != w.value {
			t.Errorf("[Service] %s = %q (set: %v), want %q", w.key, got, ok, w.value)
		}
	}
	if len(u) != 1 {
		t.Errorf("sections %v: a drop-in for the sandbox should only touch [Service]", u)
	}
	if _, ok := u.last("Service", "PrivateNetwork"); ok {
		t.Error("PrivateNetwork would hide the cluster interfaces")
	}
}

// TestClusterdSystemdAnalyzeVerifyHardened loads the unit with its
// hardened drop-in through systemd's own checker, where it is installed.
func TestClusterdSystemdAnalyzeVerifyHardened(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text, err := os.ReadFile("clusterd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "clusterd.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(text), "/usr/sbin/clusterd", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	dropIn, err := os.ReadFile("clusterd-hardened.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "clusterd.service.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clusterd.service.d", "hardened.conf"), dropIn, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyze, "verify", unit)
	// The unit's directory first, so its drop-in directory is read too.
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "clusterd") {
		t.Errorf("systemd-analyze verify clusterd.service + hardened.conf: %v\n%s", err, out)
	}
}
