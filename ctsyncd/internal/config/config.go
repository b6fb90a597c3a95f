package config

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// Config is a validated ctsyncd configuration with every default applied.
type Config struct {
	// Enabled is false when the file has no `service conntrack-sync`:
	// synchronization is off and the kernel table is left as it is
	// (CS-C01). The other fields are then zero.
	Enabled bool
	// Interface carries the sync messages (CS-C08).
	Interface string
	// Mechanism is the failover group ctsyncd follows (CS-C05, CS-C06).
	Mechanism Mechanism
	// MulticastGroup and Port are where sync messages go (CS-C09).
	MulticastGroup netip.Addr
	Port           uint16
	// Peer, when valid, receives the sync messages by unicast instead of
	// MulticastGroup (beyond the guide, issue 5); the zero Addr means
	// multicast.
	Peer netip.Addr
	// Protocols are the L4 protocols synced; nil = every protocol
	// (CS-C02). Values are ct.ProtoTCP etc.
	Protocols ProtoList
	// Ignore: connections whose original source or destination is in one
	// of these are not synced (CS-C07); masked, each once, in the order
	// written.
	Ignore []netip.Prefix
	// Expect lists the helpers whose expectations are synced, in
	// ExpectHelpers' order (`all` gives all five); nil = expectations are
	// not synced (CS-C04, CS-B02).
	Expect []string
	// EventQueueBytes is the kernel event socket's buffer
	// (event-listen-queue-size, CS-C03, CS-B08).
	EventQueueBytes int
	// SyncQueueBytes bounds the sync socket's buffers and the resend queue
	// (sync-queue-size, CS-C10, CS-B09).
	SyncQueueBytes int
	// Secret keys the HMAC of every sync message; empty = unauthenticated
	// (beyond the guide). It never reaches JSON.
	Secret string `json:"-"`
	// Keepalive is the period of keep-alives on an idle channel; Dead the
	// silence after which the peer is considered gone (beyond the guide).
	Keepalive time.Duration
	Dead      time.Duration
	// Warnings are the problems that did not stop the load.
	Warnings hc.Diagnostics `json:"-"`
}

// MechanismKind is which daemon drives the failover.
type MechanismKind int

const (
	// MechanismVRRP follows a vrrpd sync group (CS-C06).
	MechanismVRRP MechanismKind = iota + 1
	// MechanismCluster follows a clusterd resource group (CS-C05).
	MechanismCluster
)

func (k MechanismKind) String() string {
	switch k {
	case MechanismVRRP:
		return "vrrp"
	case MechanismCluster:
		return "cluster"
	}
	return "MechanismKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText gives the kind's name, so JSON reads well.
func (k MechanismKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Mechanism is the failover group ctsyncd follows (CS-B10).
type Mechanism struct {
	Kind MechanismKind
	// Group is the sync group's or cluster group's name.
	Group string
}

// BusGroup is the group's name on the failover bus, as its producer
// publishes it: "sync-group/NAME" from vrrpd, "cluster/NAME" from clusterd
// (CS-B10).
func (m Mechanism) BusGroup() string {
	switch m.Kind {
	case MechanismVRRP:
		return "sync-group/" + m.Group
	case MechanismCluster:
		return "cluster/" + m.Group
	}
	return ""
}

// String is the mechanism as the configuration writes it
// ("vrrp sync-group TESTING").
func (m Mechanism) String() string {
	switch m.Kind {
	case MechanismVRRP:
		return "vrrp sync-group " + m.Group
	case MechanismCluster:
		return "cluster group " + m.Group
	}
	return "(none)"
}

// BusGroup is Mechanism.BusGroup ("" when sync is off).
func (c *Config) BusGroup() string { return c.Mechanism.BusGroup() }

// Multicast reports whether sync messages go to MulticastGroup (no peer).
func (c *Config) Multicast() bool { return !c.Peer.IsValid() }

// Destination is where sync messages are sent: the peer, or the
// multicast group, with the port.
func (c *Config) Destination() netip.AddrPort {
	if c.Peer.IsValid() {
		return netip.AddrPortFrom(c.Peer, c.Port)
	}
	return netip.AddrPortFrom(c.MulticastGroup, c.Port)
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the ctsyncd configuration: %w", err)
	}
	return Parse(path, src)
}

// Parse validates src, named file in messages. Errors are hc.Diagnostics,
// each with file:line:col.
func Parse(file string, src []byte) (*Config, error) {
	loaded, err := schema.Load(file, src)
	if err != nil {
		return nil, err
	}
	return fromView(loaded.Root(), loaded.Warnings), nil
}

// Validate reports every warning and error of src, as `ctsyncd validate`
// shows them: the warnings come back even when there are errors.
func Validate(file string, src []byte) (warnings hc.Diagnostics, err error) {
	tree, err := schema.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return schema.Validate(tree)
}

const megabyte = 1 << 20

func fromView(root hc.View, warnings hc.Diagnostics) *Config {
	c := root.Child("service").Child("conntrack-sync")
	if !c.Exists() {
		return &Config{Warnings: warnings}
	}
	cfg := &Config{
		Enabled:         true,
		Interface:       c.String("interface"),
		MulticastGroup:  c.Addr("mcast-group"),
		Port:            uint16(c.Int("port")),
		Peer:            c.Addr("peer"),
		Expect:          canonicalExpect(c.Strings("expect-sync")),
		EventQueueBytes: int(c.Int("event-listen-queue-size")) * megabyte,
		SyncQueueBytes:  int(c.Int("sync-queue-size")) * megabyte,
		Secret:          c.String("secret"),
		Keepalive:       c.Duration("keepalive-interval"),
		Dead:            c.Duration("dead-interval"),
		Warnings:        warnings,
	}
	m := c.Child("failover-mechanism")
	if m.Has("vrrp") {
		cfg.Mechanism = Mechanism{Kind: MechanismVRRP, Group: m.Child("vrrp").String("sync-group")}
	} else {
		cfg.Mechanism = Mechanism{Kind: MechanismCluster, Group: m.Child("cluster").String("group")}
	}
	if c.Has("accept-protocol") {
		protos, _, err := ParseProtocols(c.String("accept-protocol"))
		if err != nil {
			panic(fmt.Sprintf("ctsyncd config: accept-protocol passed validation but does not parse: %v", err))
		}
		cfg.Protocols = protos
	}
	for _, v := range c.Child("ignore-address").Strings("ipv4") {
		p, err := ParseIgnore(v)
		if err != nil {
			panic(fmt.Sprintf("ctsyncd config: ignore-address %q passed validation but does not parse: %v", v, err))
		}
		if !slices.Contains(cfg.Ignore, p) {
			cfg.Ignore = append(cfg.Ignore, p)
		}
	}
	return cfg
}
