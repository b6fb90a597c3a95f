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

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// defaults is the typed Config of the smallest valid block, following
// mechanism m: every default of spec section 1 and of the nodes beyond the
// guide.
func defaults(m Mechanism) *Config {
	return &Config{
		Enabled:         true,
		Interface:       "eth1",
		Mechanism:       m,
		MulticastGroup:  netip.MustParseAddr("225.0.0.50"), // CS-C09, CS-Q01
		Port:            3780,
		EventQueueBytes: 8 << 20, // CS-C03
		SyncQueueBytes:  1 << 20, // CS-C10
		Keepalive:       time.Second,
		Dead:            5 * time.Second,
	}
}

// TestCS_C_GuideExamples reads the guide's Examples 4-5 and 4-8 (copied
// into testdata, the failover-mechanism braces restored) into the typed
// Config, without a warning.
func TestCS_C_GuideExamples(t *testing.T) {
	tests := []struct {
		file string
		want *Config
		bus  string
	}{
		{"example-4-5-conntrack-sync-cluster.conf", defaults(Mechanism{MechanismCluster, "TEST"}), "cluster/TEST"},
		{"example-4-8-conntrack-sync-vrrp.conf", defaults(Mechanism{MechanismVRRP, "TESTING"}), "sync-group/TESTING"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("typed config:\n got %+v\nwant %+v", *c, *tt.want)
			}
			if got := c.BusGroup(); got != tt.bus {
				t.Errorf("BusGroup() = %q, want %q", got, tt.bus)
			}
			if got, want := c.Destination(), netip.MustParseAddrPort("225.0.0.50:3780"); got != want || !c.Multicast() {
				t.Errorf("Destination() = %v, multicast %v; want %v by multicast", got, c.Multicast(), want)
			}
		})
	}
}

// TestCS_C_BrokenGuideText: the guide's displays exactly as printed
// (flattened, the failover-mechanism braces lost) and its stated
// mcast-group default fail with the line and a hint to the fix.
func TestCS_C_BrokenGuideText(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"example-4-5-as-printed.conf", []string{
			":3:28: service conntrack-sync failover-mechanism: failover-mechanism is a block: write failover-mechanism { ... }",
		}},
		{"example-4-8-as-printed.conf", []string{
			":3:28: service conntrack-sync failover-mechanism: failover-mechanism is a block: write failover-mechanism { ... }",
		}},
		// CS-Q01: `ctsyncd validate` of the guide's default points out the typo.
		{"guide-default-mcast-group.conf", []string{
			":11:21: service conntrack-sync mcast-group: 255.0.0.50 is not a multicast address: the guide's default 255.0.0.50 is a typo for 225.0.0.50",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "broken", tt.file)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + w
			}
			assertMessages(t, err.Error(), want)
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
				BusGroup string
			}{c, c.BusGroup()}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if c.Secret != "" && bytes.Contains(got, []byte(c.Secret)) {
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

// TestDefaults: every default of spec section 1 and of the nodes beyond
// the guide, one by one.
func TestDefaults(t *testing.T) {
	c := mustParse(t, conf(base...))
	checks := []struct {
		name      string
		got, want any
	}{
		{"CS-C01 enabled", c.Enabled, true},
		{"CS-C02 accept-protocol absent = all", c.Protocols, ProtoList(nil)},
		{"CS-C02 all accepts GRE", c.Protocols.Accepts(ct.ProtoGRE), true},
		{"CS-C03 event-listen-queue-size 8 MB", c.EventQueueBytes, 8 * 1024 * 1024},
		{"CS-C04 expect-sync absent = off", c.Expect, []string(nil)},
		{"CS-C07 ignore nothing", c.Ignore, []netip.Prefix(nil)},
		{"CS-C09 mcast-group 225.0.0.50 (CS-Q01)", c.MulticastGroup, netip.MustParseAddr("225.0.0.50")},
		{"CS-C09 port 3780", c.Port, uint16(3780)},
		{"CS-C10 sync-queue-size 1 MB", c.SyncQueueBytes, 1024 * 1024},
		{"peer absent = multicast", c.Peer, netip.Addr{}},
		{"no secret", c.Secret, ""},
		{"keepalive-interval", c.Keepalive, time.Second},
		{"dead-interval", c.Dead, 5 * time.Second},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestCS_C01_Absent: a file without `service conntrack-sync` turns sync
// off; a present but empty block lacks its mandatory nodes.
func TestCS_C01_Absent(t *testing.T) {
	for _, src := range []string{"", "/* nothing */\n", "service {\n}\n"} {
		c, err := Parse("ctsyncd.conf", []byte(src))
		if err != nil || c.Enabled || c.BusGroup() != "" {
			t.Errorf("%q: got %+v, %v; want sync off", src, c, err)
		}
	}
	_, err := Parse("ctsyncd.conf", []byte("service {\n    conntrack-sync {\n    }\n}\n"))
	if err == nil || !strings.Contains(err.Error(), "interface is required") {
		t.Errorf("empty conntrack-sync: got %v, want interface is required", err)
	}
}

// TestTypedValues reads every node, those beyond the guide included.
func TestTypedValues(t *testing.T) {
	c, err := Load("testdata/every-node.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Enabled:        true,
		Interface:      "eth1",
		Mechanism:      Mechanism{MechanismVRRP, "TESTING"},
		MulticastGroup: netip.MustParseAddr("239.1.2.3"),
		Port:           3781,
		Protocols:      ProtoList{ct.ProtoICMP, ct.ProtoTCP, ct.ProtoUDP},
		Ignore: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("224.0.0.0/24"),
			netip.MustParsePrefix("12.34.56.1/32"), netip.MustParsePrefix("172.16.0.0/12"),
		},
		Expect:          []string{"ftp", "sip"}, // canonical order, not as written
		EventQueueBytes: 64 << 20,
		SyncQueueBytes:  4 << 20,
		Secret:          "a sync secret of 31 characters",
		Keepalive:       500 * time.Millisecond,
		Dead:            3 * time.Second,
	}
	if len(c.Warnings) > 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	c.Warnings = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("typed config:\n got %+v\nwant %+v", *c, *want)
	}

	// Unicast, `all`, duplicates and host bits.
	c = mustParse(t, conf(with("peer 10.0.0.2", "expect-sync nfs", "expect-sync all",
		"ignore-address { ipv4 10.1.2.3/24 ipv4 10.1.2.0/24 ipv4 10.1.2.0/24 }", `accept-protocol "sctp , tcp,sctp"`)...))
	if got, want := c.Destination(), netip.MustParseAddrPort("10.0.0.2:3780"); got != want || c.Multicast() {
		t.Errorf("Destination() = %v, multicast %v; want %v by unicast", got, c.Multicast(), want)
	}
	if got, want := c.Expect, ExpectHelpers; !reflect.DeepEqual(got, want) {
		t.Errorf("CS-C04 all: Expect = %v, want %v", got, want)
	}
	if got, want := c.Ignore, []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}; !reflect.DeepEqual(got, want) {
		t.Errorf("CS-C07: Ignore = %v, want %v (masked, each once)", got, want)
	}
	if got, want := c.Protocols, (ProtoList{ct.ProtoTCP, ct.ProtoSCTP}); !reflect.DeepEqual(got, want) {
		t.Errorf("CS-C02: Protocols = %v, want %v", got, want)
	}
	if got := len(c.Warnings); got != 4 {
		t.Errorf("want 4 warnings (all with nfs, host bits, duplicate prefix, duplicate sctp):\n%v", c.Warnings)
	}
}
