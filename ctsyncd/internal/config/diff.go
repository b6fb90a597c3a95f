package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ReloadAction is what a reload does to synchronization as a whole
// (CS-B20). No action ever flushes the kernel table.
type ReloadAction int

const (
	// ReloadNone: nothing ctsyncd uses changed.
	ReloadNone ReloadAction = iota
	// ReloadApply: the engine applies the changes the Reload flags name.
	ReloadApply
	// ReloadStart: sync was off and is now configured.
	ReloadStart
	// ReloadStop: `service conntrack-sync` was deleted: stop syncing and
	// drop the caches, leaving the kernel table as it is (CS-C01).
	ReloadStop
)

func (a ReloadAction) String() string {
	switch a {
	case ReloadNone:
		return "none"
	case ReloadApply:
		return "apply"
	case ReloadStart:
		return "start"
	case ReloadStop:
		return "stop"
	}
	return fmt.Sprintf("ReloadAction(%d)", int(a))
}

// Reload classifies the differences between two configurations, so that
// the engine touches only what changed (CS-B20).
type Reload struct {
	Action ReloadAction
	// Changes has one line per difference, for the log and the reply of
	// `ctsyncd reload` ("interface eth1 -> eth2").
	Changes []string
	// Filter: accept-protocol or ignore-address changed. Re-filter the
	// internal cache; the entries that no longer pass leave it and are
	// deleted at the peer (the kernel keeps them).
	Filter bool
	// Channel: interface, mcast-group, peer, port or secret changed.
	// Reopen the sync socket and resync both ways. A new secret must reach
	// both nodes within dead-interval, or each drops the other's messages
	// as unauthenticated meanwhile.
	Channel bool
	// Mechanism: the failover group changed. Re-subscribe on the bus and
	// move the takeover gate to the new group.
	Mechanism bool
	// EventQueue: event-listen-queue-size changed; set the event socket's
	// buffer again.
	EventQueue bool
	// SyncQueue: sync-queue-size changed; resize the sync socket's
	// buffers and the resend queue.
	SyncQueue bool
	// Expect: the expect-sync helpers changed. Expectations of helpers no
	// longer listed leave both caches; those of new helpers are dumped
	// from the kernel and sent.
	Expect bool
	// Timers: keepalive-interval or dead-interval changed; they apply
	// from the next tick.
	Timers bool
}

// Diff compares the running configuration old (nil before the first load)
// with new.
func Diff(old, new *Config) Reload {
	var r Reload
	wasOn, isOn := old != nil && old.Enabled, new != nil && new.Enabled
	switch {
	case !wasOn && !isOn:
		return r
	case !wasOn:
		r.Action = ReloadStart
		r.Changes = []string{"conntrack-sync added: following " + new.Mechanism.String()}
		return r
	case !isOn:
		r.Action = ReloadStop
		r.Changes = []string{"conntrack-sync deleted: sync stops, the kernel table is left as it is"}
		return r
	}
	type field struct {
		name     string
		from, to string
		flag     *bool
	}
	fields := []field{
		{"accept-protocol", old.Protocols.String(), new.Protocols.String(), &r.Filter},
		{"ignore-address", prefixList(old.Ignore), prefixList(new.Ignore), &r.Filter},
		{"interface", old.Interface, new.Interface, &r.Channel},
		{"mcast-group", old.MulticastGroup.String(), new.MulticastGroup.String(), &r.Channel},
		{"peer", addrOrNone(old.Peer), addrOrNone(new.Peer), &r.Channel},
		{"port", fmt.Sprint(old.Port), fmt.Sprint(new.Port), &r.Channel},
		{"failover-mechanism", old.Mechanism.String(), new.Mechanism.String(), &r.Mechanism},
		{"event-listen-queue-size", mb(old.EventQueueBytes), mb(new.EventQueueBytes), &r.EventQueue},
		{"sync-queue-size", mb(old.SyncQueueBytes), mb(new.SyncQueueBytes), &r.SyncQueue},
		{"expect-sync", listOrNone(old.Expect), listOrNone(new.Expect), &r.Expect},
		{"keepalive-interval", old.Keepalive.String(), new.Keepalive.String(), &r.Timers},
		{"dead-interval", old.Dead.String(), new.Dead.String(), &r.Timers},
	}
	for _, f := range fields {
		if f.from != f.to {
			r.Changes = append(r.Changes, f.name+" "+f.from+" -> "+f.to)
			*f.flag = true
		}
	}
	if old.Secret != new.Secret {
		// Never the secret itself: the change lines go to the log.
		r.Changes = append(r.Changes, "secret changed")
		r.Channel = true
	}
	if len(r.Changes) > 0 {
		r.Action = ReloadApply
	}
	return r
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "(none)"
	}
	// Order does not matter to the filter: compare the sets.
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	s := make([]string, len(sorted))
	for i, p := range sorted {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "(none, multicast)"
	}
	return a.String()
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ",")
}

func mb(bytes int) string { return fmt.Sprintf("%d MB", bytes/megabyte) }
