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

// TestPrivilegedClusterdSpeaksTypeNotify runs clusterd as systemd would run
// the unit, NOTIFY_SOCKET set, alone in a namespace (its peer never
// comes), and checks the messages Type=notify relies on: READY=1 once it
// serves, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on
// SIGTERM; and that it leaves no cluster IP behind (CL-B24).
func TestPrivilegedClusterdSpeaksTypeNotify(t *testing.T) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skip("HASUITE_BIN is not set: go build -o bin/ ./clusterd and run with HASUITE_BIN=$PWD/bin")
	}
	bin, err := filepath.Abs(filepath.Join(dir, "clusterd"))
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
	config := filepath.Join(tmp, "clusterd.conf")
	// No peer ever answers: after the startup wait R1 takes the cluster
	// IP alone.
	const conf = `cluster {
	interface eth0
	pre-shared-secret "notify-test-secret-0123"
	keepalive-interval 200
	dead-interval 1000
	init-dead-interval 500
	group cluster1 {
		primary R1
		secondary R2
		service 172.16.0.100/24/eth0
	}
}
`
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` passes our environment on to clusterd.
	t.Setenv("NOTIFY_SOCKET", socket)
	runDir := filepath.Join(tmp, "run")
	proc, err := lab.Node("r1").Start(t.Context(), bin, "--config", config, "--run-dir", runDir,
		"--scripts-dir", tmp, "--state-dir", filepath.Join(tmp, "state"), "--node-name", "R1", "run")
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
				t.Fatalf("waiting for %s from clusterd: %v; its output:\n%s", want, err, proc.Output())
			}
			msg := string(buf[:n])
			t.Logf("clusterd notified: %q", msg)
			if containsLine(msg, want) {
				return
			}
		}
		t.Fatalf("no %s from clusterd within 30s", want)
	}
	expect("READY=1")
	r1 := lab.Node("r1")
	netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
		out, err := exec.CommandContext(t.Context(), bin, "--run-dir", runDir, "show", "cluster", "status").CombinedOutput()
		return err == nil && strings.Contains(string(out), "Active on primary R1 (this node)"), string(out)
	})
	netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
		out, _ := r1.Run(t.Context(), "ip", "-4", "addr", "show", "dev", "eth0")
		return strings.Contains(out, "172.16.0.100/24"), out
	})
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
		t.Errorf("clusterd did not exit cleanly on SIGTERM: %v\n%s", err, proc.Output())
	}
	if out, _ := r1.Run(t.Context(), "ip", "-4", "addr", "show", "dev", "eth0"); strings.Contains(out, "172.16.0.100") {
		t.Errorf("the cluster IP is still there after SIGTERM (CL-B24):\n%s", out)
	}
}
