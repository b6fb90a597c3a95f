package systemd

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// TestPrivilegedVrrpdSpeaksTypeNotify runs vrrpd as systemd would run the
// unit, NOTIFY_SOCKET set, and checks the messages Type=notify relies on:
// READY=1 once it serves, RELOADING=1 then READY=1 around a SIGHUP reload,
// STOPPING=1 on SIGTERM.
func TestPrivilegedVrrpdSpeaksTypeNotify(t *testing.T) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skip("HASUITE_BIN is not set: go build -o bin/ ./vrrpd and run with HASUITE_BIN=$PWD/bin")
	}
	bin, err := filepath.Abs(filepath.Join(dir, "vrrpd"))
	if err != nil {
		t.Fatal(err)
	}
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{{
			Name:       "r1",
			Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.2/24"}}},
		}},
	})

	tmp := t.TempDir()
	socket := filepath.Join(tmp, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	config := filepath.Join(tmp, "vrrpd.conf")
	const conf = "interfaces { ethernet eth0 { vrrp { vrrp-group 99 { priority 150 virtual-address 172.16.0.24/24 } } } }\n"
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` passes our environment on to vrrpd.
	t.Setenv("NOTIFY_SOCKET", socket)
	proc, err := lab.Node("r1").Start(t.Context(), bin, "--config", config, "--run-dir", filepath.Join(tmp, "run"),
		"--scripts-dir", tmp, "--state-dir", tmp, "run")
	if err != nil {
		t.Fatal(err)
	}

	expect := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if err := conn.SetReadDeadline(deadline); err != nil {
				t.Fatal(err)
			}
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s from vrrpd: %v; its output:\n%s", want, err, proc.Output())
			}
			msg := string(buf[:n])
			t.Logf("vrrpd notified: %q", msg)
			if containsLine(msg, want) {
				return
			}
		}
		t.Fatalf("no %s from vrrpd within 30s", want)
	}
	expect("READY=1")
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("RELOADING=1")
	expect("READY=1")
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect("STOPPING=1")
	if err := proc.Wait(); err != nil {
		t.Errorf("vrrpd did not exit cleanly on SIGTERM: %v", err)
	}
}

func containsLine(msg, line string) bool {
	for _, l := range strings.Split(msg, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
