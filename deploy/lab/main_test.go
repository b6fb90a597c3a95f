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
