package config

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// TestCS_C02_ParseProtocols: the accept-protocol value, spaces tolerated,
// duplicates reported, unknown names refused.
func TestCS_C02_ParseProtocols(t *testing.T) {
	tests := []struct {
		value string
		want  ProtoList
		dups  []string
		err   bool
	}{
		{value: "tcp", want: ProtoList{ct.ProtoTCP}},
		{value: "tcp,udp,sctp", want: ProtoList{ct.ProtoTCP, ct.ProtoUDP, ct.ProtoSCTP}},
		{value: "icmp,udp,tcp,sctp", want: ProtoList{ct.ProtoICMP, ct.ProtoTCP, ct.ProtoUDP, ct.ProtoSCTP}},
		{value: " tcp , udp ", want: ProtoList{ct.ProtoTCP, ct.ProtoUDP}},
		{value: "tcp,\tudp", want: ProtoList{ct.ProtoTCP, ct.ProtoUDP}},
		{value: "tcp,udp,tcp,tcp", want: ProtoList{ct.ProtoTCP, ct.ProtoUDP}, dups: []string{"tcp"}},
		{value: "", err: true},
		{value: " ", err: true},
		{value: ",", err: true},
		{value: "tcp,", err: true},
		{value: ",tcp", err: true},
		{value: "tcp udp", err: true},
		{value: "TCP", err: true},
		{value: "gre", err: true},
		{value: "all", err: true},
		{value: "6", err: true},
	}
	for _, tt := range tests {
		got, dups, err := ParseProtocols(tt.value)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(dups, tt.dups) {
			t.Errorf("ParseProtocols(%q) = %v, %v, %v; want %v, %v, error %v", tt.value, got, dups, err, tt.want, tt.dups, tt.err)
		}
	}
}

// TestProtoList: nil accepts everything (CS-C02 default); names in
// String and JSON, not numbers or base64.
func TestProtoList(t *testing.T) {
	var all ProtoList
	some := ProtoList{ct.ProtoTCP, ct.ProtoUDP}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"all accepts GRE", all.Accepts(ct.ProtoGRE), true},
		{"some accepts TCP", some.Accepts(ct.ProtoTCP), true},
		{"some refuses ICMP", some.Accepts(ct.ProtoICMP), false},
		{"all String", all.String(), "all"},
		{"some String", some.String(), "tcp,udp"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, c := range []struct {
		l    ProtoList
		want string
	}{{all, "null"}, {some, `["tcp","udp"]`}} {
		b, err := json.Marshal(c.l)
		if err != nil || string(b) != c.want {
			t.Errorf("json.Marshal(%v) = %s, %v; want %s", c.l, b, err, c.want)
		}
	}
}

// TestCS_C07_ParseIgnore: an address is a /32, a network is masked,
// anything else is refused (CS-E04).
func TestCS_C07_ParseIgnore(t *testing.T) {
	tests := []struct {
		value string
		want  string // "" = error
	}{
		{"127.0.0.1", "127.0.0.1/32"},
		{"224.0.0.0/24", "224.0.0.0/24"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"10.0.0.1/32", "10.0.0.1/32"},
		{"10.0.0.0/33", ""},
		{"10.0.0.0/-1", ""},
		{"10.0.0.0/08", ""},
		{"10.0.0.0/", ""},
		{"10.0.0", ""},
		{"::1", ""},
		{"::ffff:10.0.0.1", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
		{"/24", ""},
	}
	for _, tt := range tests {
		got, err := ParseIgnore(tt.value)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseIgnore(%q) = %v, want an error", tt.value, got)
			}
			continue
		}
		if err != nil || got != netip.MustParsePrefix(tt.want) {
			t.Errorf("ParseIgnore(%q) = %v, %v; want %s", tt.value, got, err, tt.want)
		}
	}
}

// TestCS_B10_BusGroup: the names vrrpd and clusterd publish on the bus
// (vrrpd engine.SyncGroupPrefix, clusterd Group.BusName).
func TestCS_B10_BusGroup(t *testing.T) {
	for _, tt := range []struct {
		m    Mechanism
		bus  string
		text string
	}{
		{Mechanism{MechanismVRRP, "TESTING"}, "sync-group/TESTING", "vrrp sync-group TESTING"},
		{Mechanism{MechanismCluster, "TEST"}, "cluster/TEST", "cluster group TEST"},
		{Mechanism{}, "", "(none)"},
	} {
		if got := tt.m.BusGroup(); got != tt.bus {
			t.Errorf("%+v.BusGroup() = %q, want %q", tt.m, got, tt.bus)
		}
		if got := tt.m.String(); got != tt.text {
			t.Errorf("%+v.String() = %q, want %q", tt.m, got, tt.text)
		}
	}
}
