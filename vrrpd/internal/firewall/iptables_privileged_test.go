package firewall

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// inNamespace writes a wrapper running tool inside node's namespace: the
// worker's exec may run on any thread, so entering the namespace around
// the call would not do.
func inNamespace(t *testing.T, node *netlab.Node, tool string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), tool)
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", node.Namespace(), tool)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func listChain(t *testing.T, node *netlab.Node, tool string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", node.Namespace(), tool, "-w", "-t", Table, "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -S: %v: %s", tool, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, Chain) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestPrivilegedVR_B15IptablesRules installs a group's rules in a
// namespace with the real iptables and ip6tables, changes them as a reload
// would, then removes everything.
func TestPrivilegedVR_B15IptablesRules(t *testing.T) {
	netlab.RequirePrivileged(t)
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("HASUITE_REQUIRE_PRIVILEGED") != "" {
				t.Fatalf("%s is missing: tools/install-deps.sh installs it", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	lab := netlab.New(t, netlab.Topology{Nodes: []netlab.NodeSpec{{Name: "r1"}}})
	node := lab.Node("r1")
	f, err := Open(discard(), Options{IptablesPath: inNamespace(t, node, "iptables"), Ip6tablesPath: inNamespace(t, node, "ip6tables")})
	if err != nil {
		t.Fatal(err)
	}
	v4 := Group{Key: "eth0/99", VIPs: []netip.Prefix{netip.MustParsePrefix("172.16.0.24/24"), netip.MustParsePrefix("172.16.0.25/24")}}
	v6 := Group{Key: "eth0/98", VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::24/64")}}
	f.Set(v4)
	f.Set(v6)
	f.Flush()
	check := func(tool, want string) {
		t.Helper()
		if got := listChain(t, node, tool); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", tool, got, want)
		}
	}
	check("iptables", `-N VRRPD
-A PREROUTING -j VRRPD
-A VRRPD -d 172.16.0.24/32 -m addrtype ! --dst-type LOCAL -m comment --comment "vrrpd eth0/99" -j DROP
-A VRRPD -d 172.16.0.25/32 -m addrtype ! --dst-type LOCAL -m comment --comment "vrrpd eth0/99" -j DROP`)
	check("ip6tables", `-N VRRPD
-A PREROUTING -j VRRPD
-A VRRPD -d 2001:db8::24/128 -m addrtype ! --dst-type LOCAL -m comment --comment "vrrpd eth0/98" -j DROP`)
	v4.VIPs = v4.VIPs[:1]
	f.Set(v4)
	f.Flush()
	check("iptables", `-N VRRPD
-A PREROUTING -j VRRPD
-A VRRPD -d 172.16.0.24/32 -m addrtype ! --dst-type LOCAL -m comment --comment "vrrpd eth0/99" -j DROP`)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	check("iptables", "")
	check("ip6tables", "")
}
