package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Hash identifies the part of the configuration both nodes must share. It
// travels in every heartbeat; a peer whose hash differs is flagged in
// status as a configuration mismatch (CL-B06), which would otherwise show
// up only at failover, as a missing service or a monitor the peer does not
// ping.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText gives the hex form, for JSON and logs.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// hashVersion starts the hashed text, so that a later change of what is
// hashed never makes two versions agree by accident.
const hashVersion = "hasuite-cluster-config v1\n"

// Hash returns the configuration hash: SHA-256 of HashText, the size of
// the heartbeat's config-hash field (a fingerprint for mismatch
// detection; the heartbeat's HMAC is what authenticates).
func (c *Config) Hash() Hash { return sha256.Sum256([]byte(c.HashText())) }

// HashText is the canonical text the hash covers, one setting a line: the
// group (name, nodes, auto-failback, monitors sorted, services in start
// order with their resolved interface) and the timers both nodes must
// agree on (keepalive, dead, monitor-dead). Left out on purpose:
//   - the secret: the heartbeat carries the hash in clear, and an unkeyed
//     hash of the secret would let anyone on the link test guesses offline;
//     a wrong secret shows up anyway, as heartbeats failing authentication;
//   - interfaces, peer-address, mcast-group, port and init-dead-interval,
//     which are per-node (each node lists the other as its peer, interface
//     names differ between models) or only matter on the node's own side.
//
// A disabled configuration hashes as the version line alone.
func (c *Config) HashText() string {
	var b strings.Builder
	b.WriteString(hashVersion)
	if !c.Enabled {
		return b.String()
	}
	g := &c.Group
	fmt.Fprintf(&b, "group %s\nprimary %s\nsecondary %s\nauto-failback %t\n", g.Name, g.Primary, g.Secondary, g.AutoFailback)
	monitors := slices.Clone(g.Monitors)
	slices.SortFunc(monitors, netip.Addr.Compare)
	for _, m := range monitors {
		fmt.Fprintf(&b, "monitor %s\n", m)
	}
	for _, s := range g.Services {
		if s.Kind == ServiceIP {
			// Resolved: "10.0.0.1/24" and "10.0.0.1/24/eth0" are the same service.
			fmt.Fprintf(&b, "service ip %s %s %s\n", s.Addr, s.Interface, s.Broadcast)
			continue
		}
		fmt.Fprintf(&b, "service %s %s\n", s.Kind, s.String())
	}
	fmt.Fprintf(&b, "keepalive-interval %d\ndead-interval %d\nmonitor-dead-interval %d\n",
		c.KeepaliveInterval.Milliseconds(), c.DeadInterval.Milliseconds(), c.MonitorDeadInterval.Milliseconds())
	return b.String()
}
