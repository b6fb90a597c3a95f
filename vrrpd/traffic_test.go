package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// TestVR_O10_TcpdumpArgs: the guide's `traffic` options become tcpdump's;
// without unlimited the capture stops at 1000 packets.
func TestVR_O10_TcpdumpArgs(t *testing.T) {
	base := []string{"-i", "eth0v99", "-n", "-l", "-p"}
	tests := []struct {
		words []string
		count uint
		want  []string // after base
	}{
		{nil, 0, []string{"-c", "1000"}},
		{[]string{"unlimited"}, 0, nil},
		{[]string{"detail"}, 0, []string{"-c", "1000", "-e", "-v"}},
		{[]string{"detail", "unlimited", "filter", "vrrp"}, 0, []string{"-e", "-v", "vrrp"}},
		{[]string{"filter", "host", "172.16.0.1", "and", "not", "arp"}, 0, []string{"-c", "1000", "host 172.16.0.1 and not arp"}},
		{[]string{"save", "/tmp/x.pcap"}, 0, []string{"-c", "1000", "-w", "/tmp/x.pcap"}},
		{[]string{"unlimited", "filter", "vrrp"}, 3, []string{"-c", "3", "vrrp"}},
	}
	for _, tt := range tests {
		c, err := parseTraffic("eth0v99", tt.words)
		if err != nil {
			t.Errorf("parseTraffic(%q): %v", tt.words, err)
			continue
		}
		c.Count = tt.count
		if got, want := tcpdumpArgs(c), append(slices.Clone(base), tt.want...); !slices.Equal(got, want) {
			t.Errorf("tcpdumpArgs for %q (count %d) = %q, want %q", tt.words, tt.count, got, want)
		}
	}
}

func TestVR_O10_ParseTrafficErrors(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"save"}, "save needs a file name"},
		{[]string{"filter"}, "filter needs a pcap expression"},
		{[]string{"detial"}, `unknown word "detial"`},
	}
	for _, tt := range tests {
		if _, err := parseTraffic("eth0v99", tt.words); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseTraffic(%q): err = %v, want %q", tt.words, err, tt.want)
		}
	}
}

func TestVR_O10_MissingTcpdumpNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var out bytes.Buffer
	err := runTcpdump(context.Background(), &out, &out, capture{Interface: "eth0v99"})
	if err == nil || !strings.Contains(err.Error(), "install the tcpdump package") {
		t.Errorf("err = %v, want one naming the tcpdump package", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q before failing", out.String())
	}
}

func TestVR_O11_FlowRates(t *testing.T) {
	prev := &vrrpv1.InterfaceCounters{RxPackets: 100, RxBytes: 10_000, TxPackets: 50, TxBytes: 4_000}
	tests := []struct {
		name    string
		cur     *vrrpv1.InterfaceCounters
		elapsed time.Duration
		want    rates
	}{
		{"one second", &vrrpv1.InterfaceCounters{RxPackets: 110, RxBytes: 11_000, TxPackets: 51, TxBytes: 4_100}, time.Second,
			rates{RxPackets: 10, RxBits: 8000, TxPackets: 1, TxBits: 800}},
		{"two seconds", &vrrpv1.InterfaceCounters{RxPackets: 110, RxBytes: 11_000, TxPackets: 50, TxBytes: 4_000}, 2 * time.Second,
			rates{RxPackets: 5, RxBits: 4000}},
		{"counters reset: from zero", &vrrpv1.InterfaceCounters{RxPackets: 4, RxBytes: 400}, time.Second,
			rates{RxPackets: 4, RxBits: 3200}},
		{"no time passed", prev, 0, rates{}},
	}
	for _, tt := range tests {
		if got := flowRates(prev, tt.cur, tt.elapsed); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestVR_O11_FlowLine(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 5, 0, time.UTC)
	got := flowHeader + "\n" + flowLine(at, rates{RxPackets: 10, RxBits: 8000, TxPackets: 1.5, TxBits: 12_345_678})
	want := "time       rx pkt/s   rx bit/s   tx pkt/s   tx bit/s\n" +
		"12:00:05       10.0       8.0k        1.5      12.3M"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
