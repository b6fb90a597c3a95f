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

// notifyCase is one daemon run as systemd runs its Type=notify unit,
// alone in a namespace with one interface.
type notifyCase struct {
	daemon string
	// bridge, iface and addr are the node's one interface.
	bridge, iface, addr string
	conf                string
	// args are the daemon's global flags beside --config and --run-dir;
	// tmp is the test's directory.
	args func(tmp string) []string
	// ready, if not nil, checks the running daemon after READY=1 and
	// before the reload.
	ready func(t *testing.T, r1 *netlab.Node, cli func(args ...string) (string, error))
	// stopped, if not nil, checks the node after a clean exit; sinceTerm
	// is how long ago SIGTERM was sent.
	stopped func(t *testing.T, r1 *netlab.Node, sinceTerm time.Duration)
}

var notifyCases = []notifyCase{
	{
		daemon: "vrrpd", bridge: "lan", iface: "eth0", addr: "172.16.0.2/24",
		conf: "interfaces { ethernet eth0 { vrrp { vrrp-group 99 { priority 150 virtual-address 172.16.0.24/24 } } } }\n",
		args: func(tmp string) []string { return []string{"--scripts-dir", tmp, "--state-dir", tmp} },
	},
	{
		// Its peer never comes: after the startup wait R1 takes the cluster
		// IP alone, and leaves none behind (CL-B24).
		daemon: "clusterd", bridge: "lan", iface: "eth0", addr: "172.16.0.2/24",
		conf: `cluster {
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
`,
		args: func(tmp string) []string {
			return []string{"--scripts-dir", tmp, "--state-dir", filepath.Join(tmp, "state"), "--node-name", "R1"}
		},
		ready: func(t *testing.T, r1 *netlab.Node, cli func(args ...string) (string, error)) {
			netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
				out, err := cli("show", "cluster", "status")
				return err == nil && strings.Contains(out, "Active on primary R1 (this node)"), out
			})
			netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
				out, _ := r1.Run(t.Context(), "ip", "-4", "addr", "show", "dev", "eth0")
				return strings.Contains(out, "172.16.0.100/24"), out
			})
		},
		stopped: func(t *testing.T, r1 *netlab.Node, _ time.Duration) {
			if out, _ := r1.Run(t.Context(), "ip", "-4", "addr", "show", "dev", "eth0"); strings.Contains(out, "172.16.0.100") {
				t.Errorf("the cluster IP is still there after SIGTERM (CL-B24):\n%s", out)
			}
		},
	},
	{
		// No vrrpd, no peer: FAULT, and the status says why (CS-Q03); the
		// stop is prompt.
		daemon: "ctsyncd", bridge: "sync", iface: "eth1", addr: "10.9.9.1/24",
		conf: `service {
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
`,
		args: func(tmp string) []string { return []string{"--state-dir", filepath.Join(tmp, "state")} },
		ready: func(t *testing.T, _ *netlab.Node, cli func(args ...string) (string, error)) {
			netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
				out, err := cli("show", "conntrack-sync", "status")
				return err == nil && strings.Contains(out, "last state transition : FAULT") && strings.Contains(out, "vrrpd"), out
			})
		},
		stopped: func(t *testing.T, _ *netlab.Node, sinceTerm time.Duration) {
			t.Logf("ctsyncd stopped %v after SIGTERM", sinceTerm.Round(time.Millisecond))
			if sinceTerm > ctsyncdShutdown {
				t.Errorf("ctsyncd took %v to stop, beyond its own bound %v", sinceTerm, ctsyncdShutdown)
			}
		},
	},
}

// TestPrivilegedSpeaksTypeNotify runs each daemon as systemd would run its
// unit, NOTIFY_SOCKET set, and checks the messages Type=notify relies on:
// READY=1 once it serves, RELOADING=1 then READY=1 around a SIGHUP reload,
// STOPPING=1 on SIGTERM, then a clean exit.
func TestPrivilegedSpeaksTypeNotify(t *testing.T) {
	for _, tc := range notifyCases {
		t.Run(tc.daemon, func(t *testing.T) { testSpeaksTypeNotify(t, tc) })
	}
}

func testSpeaksTypeNotify(t *testing.T, tc notifyCase) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skipf("HASUITE_BIN is not set: go build -o bin/ ./%s and run with HASUITE_BIN=$PWD/bin", tc.daemon)
	}
	bin, err := filepath.Abs(filepath.Join(dir, tc.daemon))
	if err != nil {
		t.Fatal(err)
	}
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{tc.bridge},
		Nodes: []netlab.NodeSpec{{
			Name:       "r1",
			Interfaces: []netlab.Interface{{Name: tc.iface, Bridge: tc.bridge, Addrs: []string{tc.addr}}},
		}},
	})
	r1 := lab.Node("r1")

	tmp := t.TempDir()
	socket := filepath.Join(tmp, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	config := filepath.Join(tmp, tc.daemon+".conf")
	if err := os.WriteFile(config, []byte(tc.conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` passes our environment on to the daemon.
	t.Setenv("NOTIFY_SOCKET", socket)
	runDir := filepath.Join(tmp, "run")
	args := append([]string{"--config", config, "--run-dir", runDir}, tc.args(tmp)...)
	proc, err := r1.Start(t.Context(), bin, append(args, "run")...)
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
				t.Fatalf("waiting for %s from %s: %v; its output:\n%s", want, tc.daemon, err, proc.Output())
			}
			msg := string(buf[:n])
			t.Logf("%s notified: %q", tc.daemon, msg)
			if containsLine(msg, want) {
				return
			}
		}
		t.Fatalf("no %s from %s within 30s", want, tc.daemon)
	}
	expect("READY=1")
	if tc.ready != nil {
		cli := func(args ...string) (string, error) {
			out, err := exec.CommandContext(t.Context(), bin, append([]string{"--run-dir", runDir}, args...)...).CombinedOutput()
			return string(out), err
		}
		tc.ready(t, r1, cli)
	}
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("RELOADING=1")
	expect("READY=1")
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	term := time.Now()
	expect("STOPPING=1")
	if err := proc.Wait(); err != nil {
		t.Errorf("%s did not exit cleanly on SIGTERM: %v\n%s", tc.daemon, err, proc.Output())
	}
	if tc.stopped != nil {
		tc.stopped(t, r1, time.Since(term))
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
