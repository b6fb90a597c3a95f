package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCL_C_GuideExample3_4 reads the guide's Example 3-4 verbatim (copied
// into testdata) into the typed Config.
func TestCL_C_GuideExample3_4(t *testing.T) {
	c, err := Load("testdata/example-3-4-cluster-r1.conf")
	if err != nil {
		t.Fatal(err)
	}
	ip := func(prefix, ifname, label string) Service {
		raw := prefix + "/" + ifname
		return Service{Kind: ServiceIP, Raw: raw, Addr: netip.MustParsePrefix(prefix), Interface: ifname, Label: label}
	}
	want := &Config{
		Enabled:             true,
		Interfaces:          []string{"eth0", "eth1"},
		Secret:              "!secret!",
		KeepaliveInterval:   2 * time.Second,
		DeadInterval:        10 * time.Second,
		MonitorDeadInterval: 20 * time.Second,
		InitDeadInterval:    120 * time.Second,
		McastGroup:          netip.MustParseAddr("239.251.252.253"),
		Port:                694,
		Group: Group{
			Name: "cluster1", Primary: "R1", Secondary: "R2",
			Monitors: []netip.Addr{netip.MustParseAddr("96.97.98.99"), netip.MustParseAddr("10.6.0.55")},
			Services: []Service{
				ip("10.6.0.100/24", "eth1", "eth1:0"),
				ip("12.34.56.78/24", "eth0", "eth0:0"),
				{Kind: ServiceInit, Raw: "ipsec", Name: "ipsec"},
			},
		},
	}
	got := *c
	got.Warnings = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("typed config:\n got %+v\nwant %+v", got, *want)
	}
	// The guide's secret is 8 characters (CL-C13).
	assertMessages(t, c.Warnings.Error(), []string{
		"example-3-4-cluster-r1.conf:19:1: cluster pre-shared-secret: the secret is 8 characters long",
	})
	if got, want := strings.Join(c.Group.Resources(), " "), "10.6.0.100 12.34.56.78 ipsec"; got != want {
		t.Errorf("Resources() = %q, want %q", got, want)
	}
	if got, want := c.Group.BusName(), "cluster/cluster1"; got != want {
		t.Errorf("BusName() = %q, want %q", got, want)
	}
}

// TestCL_C_GuideExample3_5: R2's flattened display (typo fixed) is the
// same configuration as R1's (5182), so the same hash; as printed, with
// `pre-shared-secret:`, it fails with the hint (CL-Q10).
func TestCL_C_GuideExample3_5(t *testing.T) {
	r1, err := Load("testdata/example-3-4-cluster-r1.conf")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Load("testdata/example-3-5-cluster-r2.conf")
	if err != nil {
		t.Fatal(err)
	}
	r1.Warnings, r2.Warnings = nil, nil
	if !reflect.DeepEqual(r1, r2) || r1.Hash() != r2.Hash() {
		t.Errorf("R1 and R2 differ:\n%+v\n%+v", r1, r2)
	}
}

// TestCL_C_BrokenGuideExamples: the guide's displays as printed, with
// their typos, fail with a hint to the fix.
func TestCL_C_BrokenGuideExamples(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"example-3-5-cluster-r2.conf", []string{
			":7:252: cluster: unexpected ':' after pre-shared-secret (write `pre-shared-secret VALUE`)",
		}},
		// Example 4-4's dead-inteval and auto-fallback (CS-Q06).
		{"example-4-4-cluster.conf", []string{
			":9:1: cluster dead-inteval: unknown node (did you mean dead-interval?)",
			":11:3: cluster group TEST auto-fallback: unknown node (did you mean auto-failback?)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", "broken", tt.file))
			if err == nil {
				t.Fatal("loaded without error")
			}
			assertMessages(t, err.Error(), tt.want)
		})
	}
}

// TestGolden renders each example's typed Config as JSON (the secret
// left out); run with -update to rewrite testdata/*.golden.json after a
// deliberate change.
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
				*Config
				Hash Hash
			}{c, c.Hash()}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(got, []byte(c.Secret)) {
				t.Errorf("the JSON holds the secret:\n%s", got)
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

// TestDefaults: every default of spec section 1, and the hidden nodes.
func TestDefaults(t *testing.T) {
	c := mustParse(t, "cluster { interface eth0 pre-shared-secret 0123456789abcdef group g { primary a secondary b service ipsec } }")
	checks := []struct {
		name      string
		got, want any
	}{
		{"CL-C01 enabled", c.Enabled, true},
		{"CL-C02 dead-interval", c.DeadInterval, 20 * time.Second},
		{"CL-C04 auto-failback", c.Group.AutoFailback, false},
		{"CL-C05 no monitors", len(c.Group.Monitors), 0},
		{"CL-C10 keepalive-interval", c.KeepaliveInterval, 5 * time.Second},
		{"CL-C11 mcast-group", c.McastGroup, netip.MustParseAddr("239.251.252.253")},
		{"CL-C11 port", c.Port, uint16(694)},
		{"CL-C12 monitor-dead-interval", c.MonitorDeadInterval, 20 * time.Second},
		{"CL-Q09 init-dead-interval", c.InitDeadInterval, 120 * time.Second},
		{"CL-Q12 multicast", len(c.Peers), 0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestCL_C01_Absent: a file without `cluster` turns clustering off.
func TestCL_C01_Absent(t *testing.T) {
	for _, src := range []string{"", "/* nothing */\n", "cluster {\n}\n"} {
		c, err := Parse("clusterd.conf", []byte(src))
		if src == "cluster {\n}\n" {
			// Present but empty: the mandatory nodes are missing.
			if err == nil {
				t.Errorf("%q: no error", src)
			}
			continue
		}
		if err != nil || c.Enabled {
			t.Errorf("%q: got %+v, %v; want clustering off", src, c, err)
		}
	}
}

// TestTypedValues reads every node, the hidden ones included.
func TestTypedValues(t *testing.T) {
	c := mustParse(t, `cluster {
    dead-interval 3s
    group web {
        auto-failback true
        monitor 192.0.2.1
        monitor 192.0.2.2
        monitor 192.0.2.1
        primary fw-a.example
        secondary fw-b.example
        service "10.0.0.10/24 eth1 10.0.0.255"
        service 10.0.0.11/24
        service 10.0.1.12/24/eth1
        service systemd:strongswan
        service IPaddr2::10.0.2.1/24/eth2::extra
    }
    init-dead-interval 0
    interface eth1
    interface eth2
    keepalive-interval 500ms
    monitor-dead-interval 2000
    peer-address 10.0.0.2
    port 6940
    pre-shared-secret "a long secret with spaces"
}`)
	if c.DeadInterval != 3*time.Second || c.KeepaliveInterval != 500*time.Millisecond || c.MonitorDeadInterval != 2*time.Second ||
		c.InitDeadInterval != 0 || c.Port != 6940 || c.Secret != "a long secret with spaces" ||
		!reflect.DeepEqual(c.Peers, []netip.Addr{netip.MustParseAddr("10.0.0.2")}) || !c.Group.AutoFailback {
		t.Errorf("cluster values: %+v", c)
	}
	if got := len(c.Group.Monitors); got != 2 {
		t.Errorf("monitors %v: want the duplicate dropped", c.Group.Monitors)
	}
	var got []string
	for _, s := range c.Group.Services {
		got = append(got, s.Kind.String()+" "+s.String()+" "+s.Label)
	}
	want := []string{
		"ip 10.0.0.10/24/eth1/10.0.0.255 eth1:0",
		"ip 10.0.0.11/24 eth0:0",
		"ip 10.0.1.12/24/eth1 eth1:1",
		"init systemd:strongswan ",
		"script IPaddr2::10.0.2.1/24/eth2::extra ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("services:\n got %q\nwant %q", got, want)
	}
	if g := c.Group; g.RoleOf("fw-a.example") != RolePrimary || g.RoleOf("fw-b.example") != RoleSecondary ||
		g.RoleOf("fw-c") != RoleNone || g.Peer(RolePrimary) != "fw-b.example" || g.Peer(RoleNone) != "" {
		t.Errorf("roles of %+v", g)
	}
	if got := len(c.Scripts()); got != 2 {
		t.Errorf("Scripts() has %d services, want 2", got)
	}
}
