package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ReloadAction is what a reload does to the group as a whole (CL-B23).
type ReloadAction int

const (
	// ReloadNone: nothing that clusterd uses changed.
	ReloadNone ReloadAction = iota
	// ReloadApply: settings change in place; resources stay where they
	// are, services added or removed start or stop on the holder only.
	ReloadApply
	// ReloadStart: clustering was off and is now configured.
	ReloadStart
	// ReloadStop: `cluster` was deleted; release every resource (CL-C01,
	// CL-B24).
	ReloadStop
	// ReloadRestart: the group's identity changed (its name, primary or
	// secondary): release the resources and start the group again.
	ReloadRestart
)

func (a ReloadAction) String() string {
	return [...]string{"none", "apply", "start", "stop", "restart"}[a]
}

// Reload classifies the differences between two configurations, so the
// engine touches only what changed (CL-B23).
type Reload struct {
	Action ReloadAction
	// Changes has one line per difference, for the log and the reply of
	// `clusterd reload` ("keepalive-interval 2000ms -> 1000ms").
	Changes []string
	// Timers: keepalive, dead, monitor-dead or init-dead interval changed.
	Timers bool
	// Transport: heartbeat interfaces, group, port, peers or secret
	// changed; the heartbeat sockets are reopened. A new secret must reach
	// both nodes within dead-interval, or each declares the other dead.
	Transport bool
	// MonitorsAdded and MonitorsRemoved, in the order written.
	MonitorsAdded, MonitorsRemoved []netip.Addr
	// ServicesAdded (new order) start on the node holding the resources;
	// ServicesRemoved (reverse old order: stop order) stop there. A kept
	// service is not touched even if its alias number moved; its new
	// position counts from the next start (CL-B15).
	ServicesAdded, ServicesRemoved []Service
	// AutoFailback changed.
	AutoFailback bool
}

// Diff compares the running configuration old (nil before the first load)
// with new.
func Diff(old, new *Config) Reload {
	var r Reload
	wasOn, isOn := old != nil && old.Enabled, new.Enabled
	switch {
	case !wasOn && !isOn:
		return r
	case !wasOn:
		r.Action = ReloadStart
		r.Changes = []string{"cluster added: group " + new.Group.Name}
		return r
	case !isOn:
		r.Action = ReloadStop
		r.Changes = []string{"cluster deleted: releasing group " + old.Group.Name}
		return r
	}
	change := func(name string, from, to any) {
		r.Changes = append(r.Changes, fmt.Sprintf("%s %v -> %v", name, from, to))
	}
	og, ng := &old.Group, &new.Group
	for _, f := range []struct{ name, from, to string }{
		{"group", og.Name, ng.Name},
		{"primary", og.Primary, ng.Primary},
		{"secondary", og.Secondary, ng.Secondary},
	} {
		if f.from != f.to {
			change(f.name, f.from, f.to)
			r.Action = ReloadRestart
		}
	}
	if r.Action == ReloadRestart {
		return r
	}

	for _, f := range []struct {
		name     string
		from, to any
	}{
		{"keepalive-interval", old.KeepaliveInterval, new.KeepaliveInterval},
		{"dead-interval", old.DeadInterval, new.DeadInterval},
		{"monitor-dead-interval", old.MonitorDeadInterval, new.MonitorDeadInterval},
		{"init-dead-interval", old.InitDeadInterval, new.InitDeadInterval},
	} {
		if f.from != f.to {
			change(f.name, f.from, f.to)
			r.Timers = true
		}
	}
	for _, f := range []struct {
		name     string
		from, to any
	}{
		{"interface", strings.Join(old.Interfaces, " "), strings.Join(new.Interfaces, " ")},
		{"mcast-group", old.McastGroup, new.McastGroup},
		{"port", old.Port, new.Port},
		{"peer-address", addrList(old.Peers), addrList(new.Peers)},
	} {
		if f.from != f.to {
			change(f.name, f.from, f.to)
			r.Transport = true
		}
	}
	if old.Secret != new.Secret {
		r.Changes = append(r.Changes, "pre-shared-secret changed")
		r.Transport = true
	}
	if og.AutoFailback != ng.AutoFailback {
		change("auto-failback", og.AutoFailback, ng.AutoFailback)
		r.AutoFailback = true
	}
	r.MonitorsAdded = missingFrom(ng.Monitors, og.Monitors)
	r.MonitorsRemoved = missingFrom(og.Monitors, ng.Monitors)
	for _, m := range r.MonitorsAdded {
		r.Changes = append(r.Changes, "monitor "+m.String()+" added")
	}
	for _, m := range r.MonitorsRemoved {
		r.Changes = append(r.Changes, "monitor "+m.String()+" removed")
	}
	for _, s := range ng.Services {
		if !slices.ContainsFunc(og.Services, func(o Service) bool { return sameResource(o, s) }) {
			r.ServicesAdded = append(r.ServicesAdded, s)
			r.Changes = append(r.Changes, "service "+s.String()+" added")
		}
	}
	for i := len(og.Services) - 1; i >= 0; i-- {
		s := og.Services[i]
		if !slices.ContainsFunc(ng.Services, func(n Service) bool { return sameResource(n, s) }) {
			r.ServicesRemoved = append(r.ServicesRemoved, s)
			r.Changes = append(r.Changes, "service "+s.String()+" removed")
		}
	}
	if len(r.Changes) > 0 {
		r.Action = ReloadApply
	}
	return r
}

func missingFrom(list, other []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range list {
		if !slices.Contains(other, a) {
			out = append(out, a)
		}
	}
	return out
}

func addrList(as []netip.Addr) string {
	if len(as) == 0 {
		return "(none)"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}
