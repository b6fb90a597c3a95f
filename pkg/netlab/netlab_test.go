package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Generous bounds: they only matter when something is broken, and a loaded
// CI machine must not turn them into flakes.
const (
	settle  = 10 * time.Second
	cmdTime = 30 * time.Second
)

func TestMain(m *testing.M) {
	// Leftovers of crashed runs; other packages' live labs are untouched.
	if swept, err := Sweep(); err != nil {
		fmt.Fprintf(os.Stderr, "netlab: sweep: %v (swept %v)\n", err, swept)
	}
	os.Exit(m.Run())
}

// threeNodes is client — router — server: the client on a bridge with the
// router, the server on a direct veth link to it, IPv4 and IPv6 throughout.
func threeNodes() Topology {
	return Topology{
		Bridges: []string{"left"},
		Nodes: []NodeSpec{
			{
				Name:       "client",
				Interfaces: []Interface{{Name: "eth0", Bridge: "left", Addrs: []string{"10.1.0.2/24", "2001:db8:1::2/64"}}},
				Routes:     []Route{{Dst: "default", Via: "10.1.0.1"}, {Dst: "default", Via: "2001:db8:1::1"}},
			},
			{
				Name: "router",
				Interfaces: []Interface{
					{Name: "eth0", Bridge: "left", Addrs: []string{"10.1.0.1/24", "2001:db8:1::1/64"}},
					{Name: "eth1", Peer: Endpoint{"server", "eth0"}, Addrs: []string{"10.2.0.1/24", "2001:db8:2::1/64"}},
				},
				Routes: []Route{{Dst: "192.0.2.2/32", Via: "10.2.0.2", Dev: "eth1"}},
				Sysctls: map[string]string{
					"net.ipv4.ip_forward":                  "1",
					"net.ipv6.conf.all.forwarding":         "1",
					"net.ipv4.conf.eth1.rp_filter":         "2", // needs eth1 to exist first
					"net.netfilter.nf_conntrack_tcp_loose": "0",
				},
			},
			{
				Name: "server",
				Interfaces: []Interface{
					{Name: "eth0", Peer: Endpoint{"router", "eth1"}, Addrs: []string{"10.2.0.2/24", "2001:db8:2::2/64"}, MAC: "02:00:00:00:02:02"},
					{Name: "lo", Addrs: []string{"192.0.2.2/32"}},
				},
				Routes: []Route{{Dst: "default", Via: "10.2.0.1"}, {Dst: "::/0", Via: "2001:db8:2::1", Dev: "eth0"}},
			},
		},
	}
}

func TestPrivilegedThreeNodes(t *testing.T) {
	lab := New(t, threeNodes())
	client, router, server := lab.Node("client"), lab.Node("router"), lab.Node("server")

	t.Run("ping end to end", func(t *testing.T) {
		for _, dst := range []string{"10.2.0.2", "2001:db8:2::2", "192.0.2.2"} {
			client.WaitPing(t, dst, settle)
		}
		server.WaitPing(t, "10.1.0.2", settle)
	})

	t.Run("sysctls", func(t *testing.T) {
		for key, want := range map[string]string{
			"net.ipv4.ip_forward":                  "1",
			"net.ipv4.conf.eth1.rp_filter":         "2",
			"net.netfilter.nf_conntrack_tcp_loose": "0",
		} {
			if got, err := router.Sysctl(key); err != nil || got != want {
				t.Errorf("router sysctl %s = %q, %v; want %q", key, got, err, want)
			}
		}
		if got, _ := client.Sysctl("net.ipv4.ip_forward"); got != "0" {
			t.Errorf("client ip_forward = %q: a node's sysctls leaked into another", got)
		}
	})

	t.Run("MAC", func(t *testing.T) {
		link, err := server.Netlink().LinkByName("eth0")
		if err != nil || link.Attrs().HardwareAddr.String() != "02:00:00:00:02:02" {
			t.Errorf("server eth0 = %v, %v; want MAC 02:00:00:00:02:02", link, err)
		}
	})

	t.Run("TCP transfer", func(t *testing.T) {
		echo, err := server.StartTCPEcho(":0")
		if err != nil {
			t.Fatal(err)
		}
		defer echo.Close()
		port := echo.Addr().(*net.TCPAddr).Port
		ctx, cancel := context.WithTimeout(t.Context(), cmdTime)
		defer cancel()
		for _, host := range []string{"10.2.0.2", "2001:db8:2::2"} {
			if err := client.TransferTCP(ctx, net.JoinHostPort(host, strconv.Itoa(port)), 4<<20); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("capture ICMP echo on the router", func(t *testing.T) {
		capture, err := router.Capture("eth0", isIPv4ICMP)
		if err != nil {
			t.Fatal(err)
		}
		defer capture.Stop()
		client.WaitPing(t, "10.2.0.2", settle)
		request := capture.WaitPacket(t, settle, icmpOfType(ipv4.ICMPTypeEcho))
		reply := capture.WaitPacket(t, settle, icmpOfType(ipv4.ICMPTypeEchoReply))
		if request.Outgoing || !reply.Outgoing {
			t.Errorf("request outgoing=%v, reply outgoing=%v; want the request received and the reply sent", request.Outgoing, reply.Outgoing)
		}
		if reply.Time.Before(request.Time) || time.Since(request.Time) > time.Minute {
			t.Errorf("timestamps request %v, reply %v: want the reply after the request, both recent", request.Time, reply.Time)
		}
		if err := capture.Stop(); err != nil {
			t.Error(err)
		}
	})

	t.Run("cut and restore a bridge port", func(t *testing.T) {
		client.WaitPing(t, "10.2.0.2", settle)
		pinger, err := client.StartPinger("10.2.0.2", 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		WaitFor(t, settle, func() (bool, string) {
			s := pinger.Stats()
			return s.Received >= 5, s.String()
		})

		if err := router.CutPort("eth0"); err != nil {
			t.Fatal(err)
		}
		WaitFor(t, settle, func() (bool, string) { return !hasCarrier(t, router, "eth0"), "router eth0 still has carrier" })
		waitPingFails(t, client, "10.2.0.2")
		const outage = 200 * time.Millisecond
		WaitFor(t, settle, func() (bool, string) {
			s := pinger.Stats()
			return s.LongestGap >= outage, s.String()
		})
		cut := pinger.Stats()

		if err := router.RestorePort("eth0"); err != nil {
			t.Fatal(err)
		}
		client.WaitPing(t, "10.2.0.2", settle)
		WaitFor(t, settle, func() (bool, string) {
			s := pinger.Stats()
			return s.Received > cut.Received, s.String()
		})
		stats := pinger.Stop()
		t.Logf("pinger: %v", stats)
		if stats.LongestGap < outage || stats.Sent <= stats.Received || stats.Duplicates != 0 {
			t.Errorf("pinger: %v; want a gap of at least %v, losses and no duplicates", stats, outage)
		}
	})

	t.Run("down and up a direct link", func(t *testing.T) {
		if err := router.SetLinkDown("eth1"); err != nil {
			t.Fatal(err)
		}
		waitPingFails(t, client, "10.2.0.2")
		if err := router.SetLinkUp("eth1"); err != nil {
			t.Fatal(err)
		}
		client.WaitPing(t, "10.2.0.2", settle)
		if err := router.CutPort("eth1"); err == nil || !strings.Contains(err.Error(), "not plugged into a bridge") {
			t.Errorf("CutPort on a direct link = %v, want an error saying to use SetLinkDown", err)
		}
	})

	t.Run("run commands", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), cmdTime)
		defer cancel()
		out, err := server.Run(ctx, "ip", "-br", "addr", "show", "dev", "eth0")
		if err != nil || !strings.Contains(out, "10.2.0.2/24") {
			t.Errorf("Run ip addr = %q, %v; want the server's address", out, err)
		}
		_, err = server.Run(ctx, "sh", "-c", "echo oops >&2; exit 3")
		if err == nil || !strings.Contains(err.Error(), "node server: sh -c") || !strings.Contains(err.Error(), "oops") {
			t.Errorf("Run failing command = %v, want an error naming the node, the command and its output", err)
		}
	})

	t.Run("Go code in a node", func(t *testing.T) {
		var names []string
		err := server.Do(func() error {
			ifaces, err := net.Interfaces()
			for _, i := range ifaces {
				names = append(names, i.Name)
			}
			return err
		})
		if err != nil || !slices.Equal(names, []string{"lo", "eth0"}) {
			t.Errorf("interfaces seen in server = %v, %v; want lo and eth0", names, err)
		}
		sentinel := errors.New("from inside")
		if err := server.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
			t.Errorf("Do = %v, want f's error", err)
		}
	})

	t.Run("processes", func(t *testing.T) {
		p, err := server.Start(t.Context(), "sh", "-c", "echo hello; echo oops >&2; exec sleep 1000")
		if err != nil {
			t.Fatal(err)
		}
		p.WaitOutput(t, settle, "hello")
		p.WaitOutput(t, settle, "oops")
		if !inNamespaceOf(t, p.Pid(), server) {
			t.Errorf("process %d is not in the server's namespace", p.Pid())
		}
		err = p.Stop(settle)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Errorf("Stop = %v, want the process ended by SIGTERM", err)
		}
		if !p.Exited() || p.ExitCode() != -1 {
			t.Errorf("after Stop: exited %v, exit code %d; want exited by a signal", p.Exited(), p.ExitCode())
		}

		p, err = client.Start(t.Context(), "sh", "-c", "exit 7")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(); p.ExitCode() != 7 {
			t.Errorf("Wait = %v, exit code %d; want 7", err, p.ExitCode())
		}
	})

	// Last: it takes the client off the network.
	t.Run("delete a link", func(t *testing.T) {
		if err := client.DeleteLink("eth0"); err != nil {
			t.Fatal(err)
		}
		if _, err := lab.sw.nl.LinkByName("client-eth0"); err == nil {
			t.Error("the bridge port client-eth0 outlived its peer")
		}
		if err := client.SetLinkUp("eth0"); err == nil || !strings.Contains(err.Error(), "node client: interface eth0") {
			t.Errorf("SetLinkUp on a deleted link = %v, want an error naming node and interface", err)
		}
	})
}

// waitPingFails waits until pings from n to dst go unanswered, each given a
// short while: a reply comes within a millisecond in a lab.
func waitPingFails(t *testing.T, n *Node, dst string) {
	t.Helper()
	WaitFor(t, settle, func() (bool, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		return n.Ping(ctx, dst) != nil, "pings still answered"
	})
}

func isIPv4ICMP(frame []byte) bool {
	if len(frame) < 14 || frame[12] != 0x08 || frame[13] != 0x00 {
		return false
	}
	h, err := ipv4.ParseHeader(frame[14:])
	return err == nil && h.Protocol == 1
}

func icmpOfType(typ ipv4.ICMPType) func([]byte) bool {
	return func(frame []byte) bool {
		h, err := ipv4.ParseHeader(frame[14:])
		return err == nil && len(frame) > 14+h.Len && ipv4.ICMPType(frame[14+h.Len]) == typ
	}
}

func hasCarrier(t *testing.T, n *Node, ifname string) bool {
	link, err := n.Netlink().LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return link.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
}

func inNamespaceOf(t *testing.T, pid int, n *Node) bool {
	want, err := namespaceID(filepath.Join(netnsDir, n.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := namespaceID(fmt.Sprintf("/proc/%d/ns/net", pid))
	return err == nil && got == want
}

// assertGone checks that nothing of a lab is left: namespaces, record,
// links named after its ports in this namespace, the given processes.
func assertGone(t *testing.T, prefix string, pids ...int) {
	t.Helper()
	if names, _ := namespacesWithPrefix(prefix); len(names) > 0 {
		t.Errorf("namespaces left behind: %v", names)
	}
	if _, err := os.Stat(recordPath(prefix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record %s left behind (%v)", recordPath(prefix), err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, prefix) || strings.HasPrefix(name, "client-") {
			t.Errorf("link %s left in the test's own namespace", name)
		}
	}
	for _, pid := range pids {
		if _, err := processStart(pid); err == nil {
			t.Errorf("process %d still runs", pid)
		}
	}
}

func TestPrivilegedCloseLeavesNothing(t *testing.T) {
	RequirePrivileged(t)
	lab, err := Build(t.Context(), "", threeNodes(), Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, n := range lab.Nodes() {
		p, err := n.Start(t.Context(), "sleep", "1000")
		if err != nil {
			lab.Close()
			t.Fatal(err)
		}
		pids = append(pids, p.Pid())
	}
	// A process the lab did not start, found by its namespace alone.
	escapee := exec.Command("ip", "netns", "exec", lab.Node("server").Namespace(), "sleep", "1000")
	if err := escapee.Start(); err != nil {
		lab.Close()
		t.Fatal(err)
	}
	go escapee.Wait() // reap it once Close kills it
	// Close finds processes by namespace: wait until `ip netns exec` has
	// moved it in, or it would enter the namespace after the deletion and
	// live on there, unnamed.
	want, err := namespaceID(filepath.Join(netnsDir, lab.Node("server").Namespace()))
	if err != nil {
		lab.Close()
		t.Fatal(err)
	}
	WaitFor(t, settle, func() (bool, string) {
		got, err := namespaceID(fmt.Sprintf("/proc/%d/ns/net", escapee.Process.Pid))
		return err == nil && got == want, "the escapee is not in the server's namespace yet"
	})

	if err := lab.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	WaitFor(t, settle, func() (bool, string) {
		_, err := processStart(escapee.Process.Pid)
		return err != nil, "the process not started by the lab still runs"
	})
	assertGone(t, lab.Prefix(), pids...)
	if err := lab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := lab.Node("client").Start(t.Context(), "true"); err == nil {
		t.Error("Start on a closed lab succeeded")
	}
}

func TestPrivilegedBuildFailureCleansUp(t *testing.T) {
	RequirePrivileged(t)
	topo := threeNodes()
	topo.Nodes[0].Sysctls = map[string]string{"net.ipv4.no_such_sysctl": "1"}
	prefix := randomPrefix()
	_, err := Build(t.Context(), prefix, topo, Options{})
	if err == nil || !strings.Contains(err.Error(), "no_such_sysctl") {
		t.Fatalf("Build = %v, want an error naming the sysctl", err)
	}
	assertGone(t, prefix)
}

// helperEnv makes the test binary run TestHelperLab as a child that builds a
// lab and then fails, panics or crashes, for the parent to inspect.
const helperEnv = "NETLAB_TEST_HELPER"

func TestHelperLab(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("a child process of the teardown tests")
	}
	lab := New(t, threeNodes())
	p, err := lab.Node("server").Start(t.Context(), "sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LAB %s %d\n", lab.Prefix(), p.Pid())
	switch mode {
	case "fail":
		t.FailNow()
	case "panic":
		panic("a test panics")
	case "crash":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// runHelper runs TestHelperLab in a child in the given mode and returns the
// lab prefix and the PID of the process it started.
func runHelper(t *testing.T, mode string) (prefix string, pid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperLab$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("helper in mode %s succeeded, want it to fail:\n%s", mode, out)
	}
	scanner := bufio.NewScanner(strings.NewReader(string(out)))
	for scanner.Scan() {
		if _, err := fmt.Sscanf(scanner.Text(), "LAB %s %d", &prefix, &pid); err == nil {
			return prefix, pid
		}
	}
	t.Fatalf("helper in mode %s printed no lab:\n%s", mode, out)
	return "", 0
}

func TestPrivilegedFailingTestTearsDown(t *testing.T) {
	RequirePrivileged(t)
	for _, mode := range []string{"fail", "panic"} {
		t.Run(mode, func(t *testing.T) {
			prefix, pid := runHelper(t, mode)
			assertGone(t, prefix, pid)
		})
	}
}

func TestPrivilegedSweep(t *testing.T) {
	live := New(t, threeNodes())

	crashed, pid := runHelper(t, "crash")
	swept, err := Sweep()
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	// Another package's TestMain may have swept the crashed lab first;
	// either way it must be gone.
	t.Logf("swept %v", swept)
	assertGone(t, crashed, pid)

	if slices.Contains(swept, live.Prefix()) {
		t.Errorf("Sweep removed the live lab %s", live.Prefix())
	}
	if _, err := os.Stat(recordPath(live.Prefix())); err != nil {
		t.Errorf("live lab's record: %v", err)
	}
	live.Node("client").WaitPing(t, "10.2.0.2", settle)
}

func TestPrivilegedPersistentAndAttach(t *testing.T) {
	RequirePrivileged(t)
	prefix := randomPrefix()
	t.Cleanup(func() {
		if err := Destroy(prefix); err != nil {
			t.Error(err)
		}
	})
	lab, err := Build(t.Context(), prefix, threeNodes(), Options{Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if swept, _ := Sweep(); slices.Contains(swept, prefix) {
		t.Fatal("Sweep removed a persistent lab")
	}
	if _, err := Build(t.Context(), prefix, threeNodes(), Options{Persistent: true}); err == nil {
		t.Fatal("a second Build with the same prefix succeeded")
	}

	attached, err := Attach(prefix, threeNodes())
	if err != nil {
		t.Fatal(err)
	}
	attached.Node("client").WaitPing(t, "10.2.0.2", settle)
	if err := attached.Close(); err != nil {
		t.Fatal(err)
	}
	if names, _ := namespacesWithPrefix(prefix); len(names) != 4 {
		t.Errorf("after closing an attached lab: namespaces %v, want all four kept", names)
	}

	if err := Destroy(prefix); err != nil {
		t.Fatal(err)
	}
	assertGone(t, prefix)
	if _, err := Attach(prefix, threeNodes()); !errors.Is(err, ErrNoLab) {
		t.Errorf("Attach to a destroyed lab = %v, want ErrNoLab", err)
	}
}
