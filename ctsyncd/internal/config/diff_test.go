package config

import (
	"reflect"
	"testing"
)

// TestCS_B20_Diff classifies reloads: each change raises the flag of the
// part of the engine that must act on it, and nothing else.
func TestCS_B20_Diff(t *testing.T) {
	full := conf(with("accept-protocol tcp,udp", "ignore-address { ipv4 127.0.0.1 ipv4 10.0.0.0/8 }",
		"expect-sync ftp", `secret "0123456789abcdef"`)...)
	type flags struct{ filter, channel, mechanism, eventQ, syncQ, expect, timers bool }
	tests := []struct {
		name     string
		old, new string // old "" = first load; new "" = an empty file
		action   ReloadAction
		changes  []string
		flags    flags
	}{
		{name: "first load", new: full, action: ReloadStart,
			changes: []string{"conntrack-sync added: following vrrp sync-group TESTING"}},
		{name: "first load, sync off", new: "", action: ReloadNone},
		{name: "off stays off", old: "service { }", new: "", action: ReloadNone},
		{name: "same", old: full, new: full, action: ReloadNone},
		{name: "layout and order only", old: full,
			new:    `service { conntrack-sync { secret 0123456789abcdef expect-sync ftp ignore-address { ipv4 10.0.0.0/8 ipv4 127.0.0.1 } accept-protocol "udp, tcp" mcast-group 225.0.0.50 failover-mechanism { vrrp { sync-group TESTING } } interface eth1 } }`,
			action: ReloadNone},
		{name: "CS_C01 deleted", old: full, new: "", action: ReloadStop,
			changes: []string{"conntrack-sync deleted: sync stops, the kernel table is left as it is"}},
		{name: "CS_C02 accept-protocol", old: full,
			new:    conf(with("ignore-address { ipv4 127.0.0.1 ipv4 10.0.0.0/8 }", "expect-sync ftp", `secret "0123456789abcdef"`)...),
			action: ReloadApply, flags: flags{filter: true}, changes: []string{"accept-protocol tcp,udp -> all"}},
		{name: "CS_C07 ignore-address", old: full,
			new:    conf(with("accept-protocol tcp,udp", "ignore-address { ipv4 127.0.0.1 }", "expect-sync ftp", `secret "0123456789abcdef"`)...),
			action: ReloadApply, flags: flags{filter: true}, changes: []string{"ignore-address 10.0.0.0/8 127.0.0.1/32 -> 127.0.0.1/32"}},
		{name: "CS_C08 interface", old: conf(base...), new: conf("interface eth2", base[1]),
			action: ReloadApply, flags: flags{channel: true}, changes: []string{"interface eth1 -> eth2"}},
		{name: "CS_C09 mcast-group", old: conf(base...), new: conf(with("mcast-group 239.0.0.50")...),
			action: ReloadApply, flags: flags{channel: true}, changes: []string{"mcast-group 225.0.0.50 -> 239.0.0.50"}},
		{name: "peer and port", old: conf(base...), new: conf(with("peer 10.0.0.2", "port 3781")...),
			action: ReloadApply, flags: flags{channel: true},
			changes: []string{"peer (none, multicast) -> 10.0.0.2", "port 3780 -> 3781"}},
		{name: "secret", old: full,
			new:    conf(with("accept-protocol tcp,udp", "ignore-address { ipv4 127.0.0.1 ipv4 10.0.0.0/8 }", "expect-sync ftp", `secret "another secret, longer"`)...),
			action: ReloadApply, flags: flags{channel: true}, changes: []string{"secret changed"}},
		{name: "secret added", old: conf(base...), new: conf(with(`secret "0123456789abcdef"`)...),
			action: ReloadApply, flags: flags{channel: true}, changes: []string{"secret changed"}},
		{name: "CS_C05_C06 mechanism", old: conf(base...), new: conf("interface eth1", "failover-mechanism { cluster { group TEST } }"),
			action: ReloadApply, flags: flags{mechanism: true},
			changes: []string{"failover-mechanism vrrp sync-group TESTING -> cluster group TEST"}},
		{name: "CS_C06 sync-group renamed", old: conf(base...), new: conf("interface eth1", "failover-mechanism { vrrp { sync-group OTHER } }"),
			action: ReloadApply, flags: flags{mechanism: true},
			changes: []string{"failover-mechanism vrrp sync-group TESTING -> vrrp sync-group OTHER"}},
		{name: "CS_C03_C10 queues", old: conf(base...), new: conf(with("event-listen-queue-size 16", "sync-queue-size 2")...),
			action: ReloadApply, flags: flags{eventQ: true, syncQ: true},
			changes: []string{"event-listen-queue-size 8 MB -> 16 MB", "sync-queue-size 1 MB -> 2 MB"}},
		{name: "CS_C04 expect-sync", old: full,
			new:    conf(with("accept-protocol tcp,udp", "ignore-address { ipv4 127.0.0.1 ipv4 10.0.0.0/8 }", "expect-sync all", `secret "0123456789abcdef"`)...),
			action: ReloadApply, flags: flags{expect: true}, changes: []string{"expect-sync ftp -> ftp,sip,h323,nfs,sqlnet"}},
		{name: "CS_C04 expect-sync off", old: full,
			new:    conf(with("accept-protocol tcp,udp", "ignore-address { ipv4 127.0.0.1 ipv4 10.0.0.0/8 }", `secret "0123456789abcdef"`)...),
			action: ReloadApply, flags: flags{expect: true}, changes: []string{"expect-sync ftp -> (none)"}},
		{name: "timers", old: conf(base...), new: conf(with("keepalive-interval 200", "dead-interval 1000")...),
			action: ReloadApply, flags: flags{timers: true},
			changes: []string{"keepalive-interval 1s -> 200ms", "dead-interval 5s -> 1s"}},
		{name: "several at once", old: conf(base...), new: conf("interface eth2", "failover-mechanism { cluster { group TEST } }", "accept-protocol tcp"),
			action: ReloadApply, flags: flags{filter: true, channel: true, mechanism: true},
			changes: []string{"accept-protocol all -> tcp", "interface eth1 -> eth2", "failover-mechanism vrrp sync-group TESTING -> cluster group TEST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old *Config
			if tt.old != "" {
				old = mustParse(t, tt.old)
			}
			r := Diff(old, mustParse(t, tt.new))
			got := []any{r.Action, r.Changes, flags{r.Filter, r.Channel, r.Mechanism, r.EventQueue, r.SyncQueue, r.Expect, r.Timers}}
			want := []any{tt.action, tt.changes, tt.flags}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("action, changes, flags:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDiffNeverLogsTheSecret: the change lines go to the log.
func TestDiffNeverLogsTheSecret(t *testing.T) {
	r := Diff(mustParse(t, conf(with(`secret "0123456789abcdef"`)...)), mustParse(t, conf(with(`secret "fedcba9876543210"`)...)))
	for _, c := range r.Changes {
		if c != "secret changed" {
			t.Errorf("change line %q", c)
		}
	}
}
