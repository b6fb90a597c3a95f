package config

import (
	"reflect"
	"testing"
)

// TestCL_B23_Diff classifies reloads: timers and monitors apply in place,
// services start and stop one by one, identity changes restart the group.
func TestCL_B23_Diff(t *testing.T) {
	base := conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.9", "service ipsec"))
	tests := []struct {
		name     string
		old, new string // old "" = first load
		action   ReloadAction
		changes  []string
		timers   bool
		trans    bool
		monAdd   []string
		monDel   []string
		svcAdd   []string
		svcDel   []string
	}{
		{name: "first load", new: base, action: ReloadStart, changes: []string{"cluster added: group cluster1"}},
		{name: "first load, no cluster", new: "", action: ReloadNone},
		{name: "same", old: base, new: base, action: ReloadNone},
		{name: "layout only", old: base,
			new:    "cluster { keepalive-interval 1s pre-shared-secret 0123456789abcdef interface eth0 group cluster1 { service 10.0.0.100/24/eth0 service ipsec monitor 10.0.0.9 secondary R2 primary R1 } }",
			action: ReloadNone},
		{name: "CL_C01 deleted", old: base, new: "", action: ReloadStop, changes: []string{"cluster deleted: releasing group cluster1"}},
		{name: "timers", old: base, new: conf(with(top, "keepalive-interval 500", "dead-interval 3000"), with(group, "monitor 10.0.0.9", "service ipsec")),
			action: ReloadApply, timers: true,
			changes: []string{"keepalive-interval 1s -> 500ms", "dead-interval 20s -> 3s"}},
		{name: "monitors", old: base, new: conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.8", "service ipsec")),
			action: ReloadApply, monAdd: []string{"10.0.0.8"}, monDel: []string{"10.0.0.9"},
			changes: []string{"monitor 10.0.0.8 added", "monitor 10.0.0.9 removed"}},
		{name: "services", old: base,
			new:    conf(with(top, "keepalive-interval 1000"), []string{"primary R1", "secondary R2", "monitor 10.0.0.9", "service 10.0.0.101/24/eth0", "service 10.0.0.100/24/eth0", "service dhcpd"}),
			action: ReloadApply, svcAdd: []string{"10.0.0.101/24/eth0", "dhcpd"}, svcDel: []string{"ipsec"},
			changes: []string{"service 10.0.0.101/24/eth0 added", "service dhcpd added", "service ipsec removed"}},
		{name: "service spelt differently is the same", old: base,
			new:    conf(with(top, "keepalive-interval 1000"), []string{"primary R1", "secondary R2", "monitor 10.0.0.9", `service "10.0.0.100/24 eth0"`, "service ipsec"}),
			action: ReloadNone},
		{name: "service prefix changed", old: base,
			new:    conf(with(top, "keepalive-interval 1000"), []string{"primary R1", "secondary R2", "monitor 10.0.0.9", "service 10.0.0.100/25/eth0", "service ipsec"}),
			action: ReloadApply, svcAdd: []string{"10.0.0.100/25/eth0"}, svcDel: []string{"10.0.0.100/24/eth0"},
			changes: []string{"service 10.0.0.100/25/eth0 added", "service 10.0.0.100/24/eth0 removed"}},
		{name: "transport", old: base,
			new:    conf([]string{"interface eth0", "interface eth1", `pre-shared-secret "another secret, longer"`, "keepalive-interval 1000", "port 700"}, with(group, "monitor 10.0.0.9", "service ipsec")),
			action: ReloadApply, trans: true,
			changes: []string{"interface eth0 -> eth0 eth1", "port 694 -> 700", "pre-shared-secret changed"}},
		{name: "auto-failback", old: base, new: conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.9", "service ipsec", "auto-failback true")),
			action: ReloadApply, changes: []string{"auto-failback false -> true"}},
		{name: "primary renamed", old: base, new: conf(with(top, "keepalive-interval 2000"), []string{"primary R3", "secondary R2", "service ipsec"}),
			action: ReloadRestart, changes: []string{"primary R1 -> R3"}},
		{name: "group renamed", old: base, new: "cluster { interface eth0 pre-shared-secret 0123456789abcdef group c2 { primary R1 secondary R2 service ipsec } }",
			action: ReloadRestart, changes: []string{"group cluster1 -> c2"}},
	}
	services := func(ss []Service) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.String())
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old *Config
			if tt.old != "" {
				old = mustParse(t, tt.old)
			}
			r := Diff(old, mustParse(t, tt.new))
			var monAdd, monDel []string
			for _, m := range r.MonitorsAdded {
				monAdd = append(monAdd, m.String())
			}
			for _, m := range r.MonitorsRemoved {
				monDel = append(monDel, m.String())
			}
			got := []any{r.Action, r.Changes, r.Timers, r.Transport, monAdd, monDel, services(r.ServicesAdded), services(r.ServicesRemoved)}
			want := []any{tt.action, tt.changes, tt.timers, tt.trans, tt.monAdd, tt.monDel, tt.svcAdd, tt.svcDel}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("action, changes, timers, transport, monitors +/-, services +/-:\n got %q\nwant %q", got, want)
			}
		})
	}
}
