package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
// guide's eth0 (its LAN) renamed to the lab's LAN interface eth2, and
// Examples 4-6/4-7 as pkg/config's tests hold them, unchanged (chapter 4's
// interfaces are the lab's).
func TestVRRPConfigsAreTheGuides(t *testing.T) {
	vrrpdTestdata := filepath.Join("..", "..", "vrrpd", "internal", "config", "testdata")
	guideTestdata := filepath.Join("..", "..", "pkg", "config", "testdata", "guide")
	guide := map[string]string{
		"vrrpd/example-2-1-r1.conf": filepath.Join(vrrpdTestdata, "example-2-1-vrrp-master.conf"),
		"vrrpd/example-2-2-r2.conf": filepath.Join(vrrpdTestdata, "example-2-2-vrrp-backup.conf"),
		"vrrpd/example-2-3-r1.conf": filepath.Join(vrrpdTestdata, "example-2-3-vrrp-sync-group-master.conf"),
		"vrrpd/example-2-4-r2.conf": filepath.Join(vrrpdTestdata, "example-2-4-vrrp-sync-group-backup.conf"),
		"vrrpd/example-4-6-r1.conf": filepath.Join(guideTestdata, "example-4-6-vrrp-r1.conf"),
		"vrrpd/example-4-7-r2.conf": filepath.Join(guideTestdata, "example-4-7-vrrp-r2.conf"),
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
		want, err := os.ReadFile(example)
		if err != nil {
			t.Fatal(err)
		}
		wantText := normalizeConfig(string(want))
		if strings.HasPrefix(example, vrrpdTestdata) { // chapter 2: the guide's LAN is eth0
			wantText = strings.ReplaceAll(wantText, "ethernet eth0 ", "ethernet "+routerLANPort+" ")
		}
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
	wantGroups := map[string]int{"2-1": 1, "2-3": 2, "4-6": 2}
	for _, s := range scenarios {
		t.Run("examples "+s.name, func(t *testing.T) {
			lab := netlab.New(t, labTopology())
			v := vrrpLab{lab: lab, bin: bin, runRoot: t.TempDir(), lanVIP: s.lanVIP}
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

func TestParseDaemons(t *testing.T) {
	tests := []struct {
		list    string
		vrrp    string // --vrrp as given, "" when left out
		want    daemons
		want46  string // the scenario up runs
		wantErr string
	}{
		{list: "vrrpd", want: daemons{vrrp: true}, want46: "2-3"},
		{list: "clusterd", want: daemons{cluster: true}, want46: "2-3"},
		{list: "vrrpd, clusterd", want: daemons{vrrp: true, cluster: true}, want46: "2-3"},
		{list: "none", want46: "2-3"},
		{list: "vrrpd", vrrp: "4-6", want: daemons{vrrp: true}, want46: "4-6"},
		{list: "vrrpd,ctsyncd", want: daemons{vrrp: true, ctsync: true}, want46: "4-6"},
		{list: "vrrpd,ctsyncd", vrrp: "4-6", want: daemons{vrrp: true, ctsync: true}, want46: "4-6"},
		{list: "vrrpd,ctsyncd", vrrp: "2-3", wantErr: "leave --vrrp out"},
		{list: "ctsyncd", wantErr: "write vrrpd,ctsyncd"},
		{list: "vrrpd,keepalived", wantErr: "none of vrrpd, clusterd, ctsyncd"},
	}
	for _, tt := range tests {
		t.Run(tt.list+" "+tt.vrrp, func(t *testing.T) {
			got, err := parseDaemons(tt.list)
			scenario := ""
			if err == nil {
				name := tt.vrrp
				if name == "" {
					name = scenarios[0].name
				}
				scenario, err = vrrpScenarioFor(got, name, tt.vrrp != "")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || scenario != tt.want46 {
				t.Fatalf("got %+v, scenario %q, %v; want %+v, scenario %q", got, scenario, err, tt.want, tt.want46)
			}
		})
	}
}

// TestCtsyncConfigIsTheGuides keeps the lab's ctsyncd configuration the
// guide's Example 4-8 as ctsyncd's own tests hold it (CS-C05, CS-C08).
func TestCtsyncConfigIsTheGuides(t *testing.T) {
	got, err := ctsyncFiles.ReadFile("ctsyncd/ctsyncd.conf")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "ctsyncd", "testdata", "example-4-8-conntrack-sync-vrrp.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if normalizeConfig(string(got)) != normalizeConfig(string(want)) {
		t.Errorf("ctsyncd/ctsyncd.conf differs from the guide's Example 4-8:\n got: %s\nwant: %s",
			normalizeConfig(string(got)), normalizeConfig(string(want)))
	}
}

// TestFirewallRulesAreTheGuides checks that the iptables rules carry
// Examples 4-1 and 4-9: each rule the lab needs is there, with the guide's
// addresses (and 172.16.0.33 for Example 4-9's typo, CS-Q07).
func TestFirewallRulesAreTheGuides(t *testing.T) {
	data, err := ctsyncFiles.ReadFile("ctsyncd/firewall.rules")
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "-A ") {
			rules = append(rules, line)
		}
	}
	for _, want := range []string{
		// Example 4-1, internet_to_protected in on eth0: rule 10, rule 20, default_action drop.
		"-A FORWARD -i eth0+ -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -i eth0+ -p tcp -d 172.16.0.33 --dport 80 -m conntrack --ctstate NEW -j ACCEPT",
		"-A FORWARD -i eth0+ -j DROP",
		// protected_to_internet in on eth2: rule 10, default_action accept.
		"-A FORWARD -i eth2+ -m conntrack --ctstate INVALID -j DROP",
		"-A FORWARD -i eth2+ -j ACCEPT",
		// Example 4-9: rules 10 (SNAT) and 20 (DNAT), on the outside VIP.
		"-A POSTROUTING -o eth0+ -s 172.16.0.0/24 -j SNAT --to-source " + ctsyncOutsideVIP,
		"-A PREROUTING -i eth0+ -d " + ctsyncOutsideVIP + " -p tcp --dport 80 -j DNAT --to-destination 172.16.0.33",
	} {
		if !slices.Contains(rules, want) {
			t.Errorf("ctsyncd/firewall.rules lacks %q", want)
		}
	}
	if len(rules) != 7 {
		t.Errorf("ctsyncd/firewall.rules has %d rules, want the guide's 7:\n%s", len(rules), strings.Join(rules, "\n"))
	}
	for _, guide := range []struct{ file, value string }{
		{"example-4-1-firewall.conf", "address 172.16.0.33"},
		{"example-4-9-nat.conf", "address " + ctsyncOutsideVIP},
		{"example-4-9-nat.conf", "address 172.16.0.0/24"},
	} {
		text, err := os.ReadFile(filepath.Join("..", "..", "pkg", "config", "testdata", "guide", guide.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), guide.value) {
			t.Errorf("the guide's %s has no %q: update the lab's rules and this test", guide.file, guide.value)
		}
	}
}

// TestPrivilegedLabCtsync runs what `make lab-ctsync` and `lab
// ctsync-failover` do, in a lab of its own: the guide's chapter 4 set-up
// (Examples 4-1, 4-6 to 4-9, tcp_loose=0) with R1 master; a transfer from
// ISP1 through the DNATed VIP survives R1's death, every byte intact, with
// R2 committing R1's table (CS-B11); R1 comes back, takes R2's table and
// preempts with a second transfer running (CS-B12, CS-B11 again). Then the
// teardown of `lab down` leaves no daemon, pid file, run directory or
// namespace behind.
func TestPrivilegedLabCtsync(t *testing.T) {
	netlab.RequirePrivileged(t)
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Skip("HASUITE_BIN is not set: go build -o bin/ ./vrrpd ./ctsyncd and run with HASUITE_BIN=$PWD/bin")
	}
	bins := map[string]string{}
	for _, name := range []string{"vrrpd", "ctsyncd"} {
		bin, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("no %s binary: %v", name, err)
		}
		bins[name] = bin
	}
	scenario, err := scenarioNamed(ctsyncdScenario)
	if err != nil {
		t.Fatal(err)
	}
	lab := netlab.New(t, labTopology())
	c := newCtsyncLab(lab, bins["ctsyncd"], bins["vrrpd"], t.TempDir())
	if err := startVRRP(t.Context(), c.vrrp, scenario, t.Output()); err != nil {
		t.Fatal(err)
	}
	if err := startCtsync(t.Context(), c, t.Output()); err != nil {
		t.Fatal(err)
	}
	found, err := netlab.FindDetached(lab.Prefix())
	if err != nil || len(found) != 2*len(routers) {
		t.Fatalf("detached daemons: %v, %v; want vrrpd and ctsyncd on each router", found, err)
	}

	// 12 s at 2 MiB/s: R1 dies about 3 s in.
	rep, err := c.failover(t.Context(), t.Output(), transferShape{size: 24 << 20, rate: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if rep.committed == 0 || rep.failbackCommitted == 0 {
		t.Errorf("committed %d entries at the takeover, %d at the failback; want the transfer's connection each time", rep.committed, rep.failbackCommitted)
	}

	found, err = netlab.FindDetached(lab.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	if err := teardown(lab.Prefix(), c.runRoot); err != nil {
		t.Fatal(err)
	}
	for _, d := range found {
		if d.Running() {
			t.Errorf("%s's %s (PID %d) still runs after the teardown", d.Node, d.Name, d.PID)
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
