package systemd

import (
	"testing"
	"time"
)

// ctsyncdShutdown is ctsyncd's own bound on the stop at SIGTERM
// (ctsyncd/run.go shutdownTimeout).
const ctsyncdShutdown = 10 * time.Second

// TestCtsyncdUnit checks what the unit promises: Type=notify with reloads
// through the daemon (CS-B20), a stop longer than ctsyncd's own bound, an
// ordering after the failover producers, and least privilege: ctsyncd
// needs the network capabilities only and writes nothing outside its
// directories.
func TestCtsyncdUnit(t *testing.T) {
	u := readUnit(t, "ctsyncd.service")
	want := []struct{ section, key, value string }{
		{"Service", "Type", "notify"},
		{"Service", "NotifyAccess", "main"},
		{"Service", "ExecStart", "/usr/sbin/ctsyncd run"},
		{"Service", "ExecReload", "/usr/sbin/ctsyncd reload"},
		{"Service", "RuntimeDirectory", "hasuite"},
		{"Service", "RuntimeDirectoryPreserve", "yes"},
		{"Service", "StateDirectory", "hasuite/ctsyncd"},
		{"Service", "CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_RAW"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"},
		{"Unit", "After", "vrrpd.service clusterd.service"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		if got, ok := u.last(w.section, w.key); !ok || got != w.value {
			t.Errorf("[%s] %s = %q (set: %v), want %q", w.section, w.key, got, ok, w.value)
		}
	}
	// A private network would hide the sync interface and the conntrack
	// table; ambient or extra capabilities defeat the bounding set;
	// Wants/Requires on a producer would start the one not configured.
	for _, key := range []string{"PrivateNetwork", "AmbientCapabilities", "User", "DynamicUser"} {
		if v, ok := u.last("Service", key); ok {
			t.Errorf("[Service] %s=%s must not be set in ctsyncd.service", key, v)
		}
	}
	for _, key := range []string{"Requires", "BindsTo"} {
		if v, ok := u.last("Unit", key); ok {
			t.Errorf("[Unit] %s=%s: ctsyncd follows one producer, named by its configuration", key, v)
		}
	}
	stop, _ := u.last("Service", "TimeoutStopSec")
	if d, err := time.ParseDuration(stop); err != nil || d <= ctsyncdShutdown {
		t.Errorf("TimeoutStopSec = %q, want a duration over %v", stop, ctsyncdShutdown)
	}
}
