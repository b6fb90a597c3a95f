package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hasuite/hasuite/pkg/netlab"
)

const settle = 10 * time.Second

func TestDiagramShowsEveryAddress(t *testing.T) {
	for _, n := range labTopology().Nodes {
		if !strings.Contains(diagram, labPrefix+"-"+n.Name) {
			t.Errorf("the diagram does not show node %s", n.Name)
		}
		for _, ifc := range n.Interfaces {
			for _, a := range ifc.Addrs {
				if !strings.Contains(diagram, a) {
					t.Errorf("the diagram does not show %s of %s:%s", a, n.Name, ifc.Name)
				}
			}
		}
	}
}

func TestReadmeShowsTheDiagram(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	picture, _, _ := strings.Cut(diagram, "[x] =")
	for _, line := range strings.Split(picture, "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(string(readme), line+"\n") {
			t.Errorf("README.md lacks the diagram's line %q: copy the diagram from topology.go", line)
		}
	}
}

// TestPrivilegedLabTopology builds the lab's topology under a random prefix,
// so it never meets a developer's hslab, and checks the paths it promises.
func TestPrivilegedLabTopology(t *testing.T) {
	lab := netlab.New(t, labTopology())
	lan, r1, r2, isp2 := lab.Node("lan"), lab.Node("r1"), lab.Node("r2"), lab.Node("isp2")

	// Echo requests from the LAN host must cross R1's LAN interface.
	capture, err := r1.Capture("eth2", func(frame []byte) bool { return echoRequestFrom(frame, "172.16.0.33") != "" })
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		from  *netlab.Node
		to    string
		viaR1 bool
	}{
		{lan, "12.34.56.1", true},   // ISP1
		{lan, "98.76.54.1", true},   // ISP2
		{lan, "11.22.33.44", true},  // a chapter 1 health target behind ISP1
		{lan, "96.97.98.99", true},  // the chapter 3 VPN peer behind ISP1
		{lan, "12.34.56.200", true}, // R2's upstream address, through R1
		{r1, "192.168.0.200", false},
		{r1, "172.16.30.200", false},
		{r2, "10.6.0.55", false},     // chapter 3's downstream monitor
		{r2, "12.34.56.133", false},  // chapter 4's upstream monitor
		{isp2, "172.16.0.33", false}, // back to the LAN through R1's eth3
	}
	for _, tt := range tests {
		tt.from.WaitPing(t, tt.to, settle)
		if tt.viaR1 {
			capture.WaitPacket(t, settle, func(frame []byte) bool { return echoRequestFrom(frame, "172.16.0.33") == tt.to })
		}
	}
}

// echoRequestFrom returns the destination of an ICMP echo request sent by
// src, or "" for any other frame.
func echoRequestFrom(frame []byte, src string) string {
	if len(frame) < 14 || frame[12] != 0x08 || frame[13] != 0x00 {
		return ""
	}
	h, err := ipv4.ParseHeader(frame[14:])
	if err != nil || h.Protocol != 1 || h.Src.String() != src || len(frame) <= 14+h.Len {
		return ""
	}
	if ipv4.ICMPType(frame[14+h.Len]) != ipv4.ICMPTypeEcho {
		return ""
	}
	return h.Dst.String()
}

// TestVRRPConfigsAreTheGuides: the lab's vrrpd configurations are the
// guide's Examples 2-1 to 2-4 as vrrpd's own tests hold them, with only the
// guide's eth0 (its LAN) renamed to the lab's LAN interface eth2.
func TestVRRPConfigsAreTheGuides(t *testing.T) {
	guide := map[string]string{
		"vrrpd/example-2-1-r1.conf": "example-2-1-vrrp-master.conf",
		"vrrpd/example-2-2-r2.conf": "example-2-2-vrrp-backup.conf",
		"vrrpd/example-2-3-r1.conf": "example-2-3-vrrp-sync-group-master.conf",
		"vrrpd/example-2-4-r2.conf": "example-2-4-vrrp-sync-group-backup.conf",
	}
	for _, s := range scenarios {
		for _, node := range routers {
			file, ok := s.configs[node]
			if !ok {
				t.Errorf("scenario %s has no configuration for %s", s.name, node)
				continue
			}
			if _, ok := guide[file]; !ok {
				t.Errorf("scenario %s: %s is not one of the guide's examples this test knows", s.name, file)
			}
		}
	}
	for lab, example := range guide {
		got, err := vrrpConfigs.ReadFile(lab)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "vrrpd", "internal", "config", "testdata", example))
		if err != nil {
			t.Fatal(err)
		}
		wantText := strings.ReplaceAll(normalizeConfig(string(want)), "ethernet eth0 ", "ethernet "+routerLANPort+" ")
		if normalizeConfig(string(got)) != wantText {
			t.Errorf("%s differs from the guide's %s beyond eth0 -> %s:\n got: %s\nwant: %s",
				lab, example, routerLANPort, normalizeConfig(string(got)), wantText)
		}
	}
}

var (
	configComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	whitespace    = regexp.MustCompile(`\s+`)
)

// normalizeConfig drops comments and layout, which the lab's copies change.
func normalizeConfig(s string) string {
	return strings.TrimSpace(whitespace.ReplaceAllString(configComment.ReplaceAllString(s, " "), " "))
}

// TestPrivilegedLabVRRP runs what `make lab` and `lab failover` do, for each
// pair of the guide's examples, in a lab of its own: vrrpd on R1 and R2
// elects R1 MASTER of every group (VR-B13), R2 takes every group over when
// R1's LAN cable is pulled (VR-B05, and the sync group), R1 preempts when it
// comes back (VR-B08), and the teardown of `lab down` leaves no daemon, pid
// file, run directory or namespace behind.
func TestPrivilegedLabVRRP(t *testing.T) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skip("HASUITE_BIN is not set: go build -o bin/ ./vrrpd and run with HASUITE_BIN=$PWD/bin")
	}
	bin, err := filepath.Abs(filepath.Join(dir, "vrrpd"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no vrrpd binary: %v", err)
	}
	wantGroups := map[string]int{"2-1": 1, "2-3": 2}
	for _, s := range scenarios {
		t.Run("examples "+s.name, func(t *testing.T) {
			lab := netlab.New(t, labTopology())
			v := vrrpLab{lab: lab, bin: bin, runRoot: t.TempDir()}
			if err := startVRRP(t.Context(), v, s, t.Output()); err != nil {
				t.Fatal(err)
			}
			found, err := netlab.FindDetached(lab.Prefix())
			if err != nil || len(found) != len(routers) {
				t.Fatalf("detached daemons: %v, %v; want one vrrpd per router", found, err)
			}
			st, err := v.states(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if masters, settled := st.masters(); !settled || len(masters) != wantGroups[s.name] {
				t.Fatalf("after the election: %s; want one MASTER in each of %d groups", st, wantGroups[s.name])
			}

			rep, err := v.failover(t.Context(), t.Output())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("takeover %v, preemption %v, LAN pings during the takeover: %v", rep.takeover, rep.preempt, rep.during)
			if rep.during.Duplicates > 0 {
				t.Errorf("two routers answered for the VIP during the takeover: %v", rep.during)
			}

			if err := teardown(lab.Prefix(), v.runRoot); err != nil {
				t.Fatal(err)
			}
			for _, d := range found {
				if d.Running() {
					t.Errorf("%s's vrrpd (PID %d) still runs after the teardown", d.Node, d.PID)
				}
			}
			if left, _ := filepath.Glob(filepath.Join("/run/netns", lab.Prefix()+"-*")); len(left) > 0 {
				t.Errorf("namespaces left after the teardown: %v", left)
			}
			for _, path := range []string{v.runRoot, netlab.DetachedDir(lab.Prefix())} {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s after the teardown: %v, want it gone", path, err)
				}
			}
		})
	}
}

// TestClusterConfigIsTheGuides keeps the lab's clusterd configuration the
// guide's Example 3-4 (as clusterd's own tests hold it) but for the
// changes its comments list: the lab's interfaces and monitor, a script
// for ipsec, short timers, auto-failback.
func TestClusterConfigIsTheGuides(t *testing.T) {
	got, err := clusterFiles.ReadFile("clusterd/clusterd.conf")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join("..", "..", "clusterd", "internal", "config", "testdata", "example-3-4-cluster-r1.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := normalizeConfig(string(guide))
	for _, change := range [][2]string{
		{"interface eth0 interface eth1 keepalive-interval 2000",
			"init-dead-interval 2000 interface eth1 interface eth2 keepalive-interval 200 monitor-dead-interval 1000"},
		{"dead-interval 10000", "dead-interval 1000"},
		{"group cluster1 { ", "group cluster1 { auto-failback true "},
		{"monitor 96.97.98.99", "monitor 12.34.56.1"},
		{"service 10.6.0.100/24/eth1", "service 10.6.0.100/24/eth2"},
		{"service ipsec", "service lablog::ipsec"},
	} {
		if !strings.Contains(want, change[0]) {
			t.Fatalf("the guide's Example 3-4 has no %q: update this test", change[0])
		}
		want = strings.Replace(want, change[0], change[1], 1)
	}
	if normalizeConfig(string(got)) != want {
		t.Errorf("clusterd/clusterd.conf differs from the guide's Example 3-4 beyond the lab's changes:\n got: %s\nwant: %s",
			normalizeConfig(string(got)), want)
	}
}

// TestPrivilegedLabCluster runs what `make lab-cluster` and `lab
// cluster-failover` do, in a lab of its own: clusterd on R1 and R2 with the
// adapted Example 3-4 makes R1, the primary, hold the resources and R2
// stand by (CL-B07); R2 takes them over when R1's clusterd is killed and
// its ports cut (CL-B08) or stopped (CL-B24), with the LAN host reaching
// the cluster IP and never two routers answering for it; the restarted R1
// removes a killed run's leftovers and, while it reaches no monitor, stays
// down (CL-B11); auto-failback true hands the resources back (CL-B20).
// Then the teardown of `lab down` leaves no daemon, pid file, run
// directory or namespace behind.
func TestPrivilegedLabCluster(t *testing.T) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skip("HASUITE_BIN is not set: go build -o bin/ ./clusterd and run with HASUITE_BIN=$PWD/bin")
	}
	bin, err := filepath.Abs(filepath.Join(dir, "clusterd"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no clusterd binary: %v", err)
	}
	lab := netlab.New(t, labTopology())
	c := clusterLab{lab: lab, bin: bin, runRoot: t.TempDir()}
	if err := startCluster(t.Context(), c, t.Output()); err != nil {
		t.Fatal(err)
	}
	found, err := netlab.FindDetached(lab.Prefix())
	if err != nil || len(found) != len(routers) {
		t.Fatalf("detached daemons: %v, %v; want one clusterd per router", found, err)
	}
	active := 0
	for _, node := range routers {
		s, err := c.status(t.Context(), node)
		if err != nil {
			t.Fatal(err)
		}
		if holdsResources(s) {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d routers hold the resources, want one", active)
	}

	for _, mode := range failoverModes {
		rep, err := c.failover(t.Context(), t.Output(), mode)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		t.Log(rep)
		if rep.duringTakeover.Duplicates > 0 || rep.during.Duplicates > 0 {
			t.Errorf("%s: two routers answered for the cluster IP: %v", mode, rep)
		}
	}

	// Non-revertive, as README.md says to try it: R2 keeps the resources
	// (CL-B19) until `clusterd takeover` on R1 moves them back.
	for _, node := range routers {
		path := filepath.Join(c.runDir(node), "clusterd.conf")
		conf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(conf), "auto-failback true", "auto-failback false", 1)
		if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ctl(t.Context(), node, "reload"); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := c.failover(t.Context(), t.Output(), "term")
	if err != nil {
		t.Fatalf("term, auto-failback false: %v", err)
	}
	t.Log("auto-failback false, ", rep)

	found, err = netlab.FindDetached(lab.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	if err := teardown(lab.Prefix(), c.runRoot); err != nil {
		t.Fatal(err)
	}
	for _, d := range found {
		if d.Running() {
			t.Errorf("%s's clusterd (PID %d) still runs after the teardown", d.Node, d.PID)
		}
	}
	if left, _ := filepath.Glob(filepath.Join("/run/netns", lab.Prefix()+"-*")); len(left) > 0 {
		t.Errorf("namespaces left after the teardown: %v", left)
	}
	for _, path := range []string{c.runRoot, netlab.DetachedDir(lab.Prefix())} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the teardown: %v, want it gone", path, err)
		}
	}
}
