package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// groupSummary is what the guide's examples say about each group.
type groupSummary struct {
	key       string
	priority  uint8
	vips      []string
	syncGroup string
	vrrpIf    string // empty without RFC 3768 mode
	vmac      string
}

func summarize(g Group) groupSummary {
	s := groupSummary{key: g.Key.String(), priority: g.Priority, syncGroup: g.SyncGroup, vrrpIf: g.VRRPInterface.Name}
	for _, p := range g.VIPs {
		s.vips = append(s.vips, p.String())
	}
	if g.VRRPInterface.MAC != nil {
		s.vmac = g.VRRPInterface.MAC.String()
	}
	return s
}

// TestVR_C_GuideExamples loads the guide's examples (spec section 1.3)
// verbatim and checks the typed values and warnings.
func TestVR_C_GuideExamples(t *testing.T) {
	tests := []struct {
		file     string
		groups   []groupSummary
		warnings []string // substrings, in order
	}{
		{
			file:   "example-2-1-vrrp-master",
			groups: []groupSummary{{"eth0/99", 150, []string{"172.16.0.24/24"}, "", "eth0v99", "00:00:5e:00:01:63"}},
		},
		{
			file:   "example-2-2-vrrp-backup",
			groups: []groupSummary{{"eth0/99", 20, []string{"172.16.0.24/24"}, "", "eth0v99", "00:00:5e:00:01:63"}},
		},
		{
			file: "example-2-3-vrrp-sync-group-master",
			groups: []groupSummary{
				{"eth0/99", 150, []string{"172.16.0.24/24"}, "ALPHA", "eth0v99", "00:00:5e:00:01:63"},
				{"eth1/101", 150, []string{"172.16.30.24/24"}, "ALPHA", "eth1v101", "00:00:5e:00:01:65"},
			},
			warnings: []string{":8:40: interfaces ethernet eth0 vrrp vrrp-group 99 interface: an interface block implies rfc3768-compatibility"},
		},
		{
			file: "example-2-4-vrrp-sync-group-backup",
			groups: []groupSummary{
				{"eth0/99", 20, []string{"172.16.0.24/24"}, "ALPHA", "eth0v99", "00:00:5e:00:01:63"},
				{"eth1/101", 20, []string{"172.16.30.24/24"}, "ALPHA", "eth1v101", "00:00:5e:00:01:65"},
			},
			warnings: []string{":8:40: interfaces ethernet eth0 vrrp vrrp-group 99 interface: an interface block implies"},
		},
		{
			file: "example-2-5-eth1-initial",
			warnings: []string{
				"interfaces ethernet eth1 duplex: ignored: not a VRRP setting",
				"interfaces ethernet eth1 hw-id: ignored",
				"interfaces ethernet eth1 smp_affinity: ignored",
				"interfaces ethernet eth1 speed: ignored",
			},
		},
		{
			file:   "example-2-5-vrrp-address-owner",
			groups: []groupSummary{{"eth1/10", 255, []string{"10.0.1.254/24"}, "test", "eth1v10", "00:00:5e:00:01:0a"}},
			warnings: []string{
				":9:1: interfaces ethernet eth1 duplex: ignored: not a VRRP setting",
				":10:1: interfaces ethernet eth1 hw-id: ignored",
				":11:1: interfaces ethernet eth1 smp_affinity: ignored",
				":12:1: interfaces ethernet eth1 speed: ignored",
				":19:5: interfaces ethernet eth1 vrrp vrrp-group 10 sync-group: sync-group test has only this group",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tt.file+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			var got []groupSummary
			for _, g := range c.Groups {
				got = append(got, summarize(g))
			}
			if !slices.EqualFunc(got, tt.groups, func(a, b groupSummary) bool {
				return a.key == b.key && a.priority == b.priority && slices.Equal(a.vips, b.vips) &&
					a.syncGroup == b.syncGroup && a.vrrpIf == b.vrrpIf && a.vmac == b.vmac
			}) {
				t.Errorf("groups:\n got %+v\nwant %+v", got, tt.groups)
			}
			assertMessages(t, c.Warnings.Error(), tt.warnings)
		})
	}
}

// assertMessages checks that text has one line per wanted substring, in
// order.
func assertMessages(t *testing.T, text string, want []string) {
	t.Helper()
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d messages, want %d:\n%s", len(lines), len(want), text)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("message %d:\n got %s\nwant it to contain %s", i, lines[i], w)
		}
	}
}

// TestGolden renders each example's typed Config as JSON; run with
// -update to rewrite testdata/*.golden.json after a deliberate change.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".conf")
		t.Run(name, func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(struct {
				Groups     []Group
				SyncGroups map[string][]GroupKey
			}{c.Groups, c.SyncGroups}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the typed Config (go test -update if the change is deliberate):\n%s", golden, got)
			}
		})
	}
}

// TestDefaults: every node the guide gives a default, and the hidden ones
// (spec section 1.2 and its note on gratuitous ARP).
func TestDefaults(t *testing.T) {
	c := mustParse(t, `interfaces { ethernet eth0 { vrrp { vrrp-group 7 { virtual-address 10.0.0.1 } } } }`)
	g := c.Groups[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"VR-C11 advertise-interval", g.Interval.String(), "1s"},
		{"VR-C12 authentication", g.Auth, Auth{}},
		{"VR-C16 disable", g.Disabled, false},
		{"VR-C17 hello-source-address", g.HelloSource.IsValid(), false},
		{"VR-C22 preempt", g.Preempt, true},
		{"VR-C23 preempt-delay", g.PreemptDelay.String(), "0s"},
		{"VR-C24 priority", g.Priority, uint8(100)},
		{"VR-C25 rfc3768-compatibility", g.RFC3768, false},
		{"VR-C25 no VRRP interface", g.VRRPInterface.Name, ""},
		{"VR-C31 /32 without prefix", g.VIPs, []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}},
		{"version", g.Version, 2},
		{"unicast peers", len(g.Peers), 0},
		{"garp (keepalived's, refreshing)", g.GARP, GARP{MasterRepeat: 5, MasterDelay: 5 * time.Second, MasterRefreshRepeat: 1, MasterRefresh: time.Minute}},
		{"checksum", g.Checksum, ChecksumRFC9568},
		{"gate-deadline", g.GateDeadline.String(), "1s"},
		{"owner", g.Owner(), false},
		{"VLAN", g.VLAN, NoVLAN},
		{"interface", g.Interface, "eth0"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}
