package systemd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// TestPrivilegedCtsyncdSpeaksTypeNotify runs ctsyncd as systemd would run
// the unit, NOTIFY_SOCKET set, alone in a namespace (no vrrpd, no peer),
// and checks the messages Type=notify relies on: READY=1 once it serves,
// RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM
// and a prompt, clean exit.
func TestPrivilegedCtsyncdSpeaksTypeNotify(t *testing.T) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skip("HASUITE_BIN is not set: go build -o bin/ ./ctsyncd and run with HASUITE_BIN=$PWD/bin")
	}
	bin, err := filepath.Abs(filepath.Join(dir, "ctsyncd"))
	if err != nil {
		t.Fatal(err)
	}
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"sync"},
		Nodes: []netlab.NodeSpec{{
			Name:       "r1",
			Interfaces: []netlab.Interface{{Name: "eth1", Bridge: "sync", Addrs: []string{"10.9.9.1/24"}}},
		}},
	})

	tmp := t.TempDir()
	socket := filepath.Join(tmp, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	config := filepath.Join(tmp, "ctsyncd.conf")
	const conf = `service {
    conntrack-sync {
        failover-mechanism {
            vrrp {
                sync-group TESTING
            }
        }
        interface eth1
        peer 10.9.9.2
    }
}
`
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` passes our environment on to ctsyncd.
	t.Setenv("NOTIFY_SOCKET", socket)
	runDir := filepath.Join(tmp, "run")
	proc, err := lab.Node("r1").Start(t.Context(), bin, "--config", config, "--run-dir", runDir,
		"--state-dir", filepath.Join(tmp, "state"), "run")
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
				t.Fatalf("waiting for %s from ctsyncd: %v; its output:\n%s", want, err, proc.Output())
			}
			msg := string(buf[:n])
			t.Logf("ctsyncd notified: %q", msg)
			if containsLine(msg, want) {
				return
			}
		}
		t.Fatalf("no %s from ctsyncd within 30s", want)
	}
	expect("READY=1")
	// No vrrpd: FAULT, and the status says why (CS-Q03).
	netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
		out, err := exec.CommandContext(t.Context(), bin, "--run-dir", runDir, "show", "conntrack-sync", "status").CombinedOutput()
		return err == nil && strings.Contains(string(out), "last state transition : FAULT") && strings.Contains(string(out), "vrrpd"), string(out)
	})
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("RELOADING=1")
	expect("READY=1")
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	expect("STOPPING=1")
	if err := proc.Wait(); err != nil {
		t.Errorf("ctsyncd did not exit cleanly on SIGTERM: %v\n%s", err, proc.Output())
	}
	t.Logf("ctsyncd stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if d := time.Since(start); d > ctsyncdShutdown {
		t.Errorf("ctsyncd took %v to stop, beyond its own bound %v", d, ctsyncdShutdown)
	}
}
