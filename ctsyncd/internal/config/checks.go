package config

import (
	"slices"
	"strings"
	"unicode/utf8"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// mechanismHint is how to write a failover mechanism (CS-C05, CS-C06).
const mechanismHint = "failover-mechanism { vrrp { sync-group NAME } } or failover-mechanism { cluster { group NAME } }"

// checkSync applies the rules between the nodes of conntrack-sync
// (CS-E01, and the warnings of the nodes beyond the guide).
func checkSync(c hc.View, r *hc.Report) {
	if !c.Has("failover-mechanism") {
		// Not Required(): this message says how to write it. It shows once
		// the other errors of the block are fixed.
		r.Errorf(c, "no failover mechanism: add %s; its takeover is what commits the peer's connections here", mechanismHint)
	}

	keepalive, dead := c.Duration("keepalive-interval"), c.Duration("dead-interval")
	deadAt := c.Child("dead-interval")
	if !deadAt.Exists() {
		deadAt = c.Child("keepalive-interval")
	}
	switch {
	case dead <= keepalive:
		r.Errorf(deadAt, "dead-interval %d ms must be longer than keepalive-interval %d ms (at least twice: %d ms)",
			dead.Milliseconds(), keepalive.Milliseconds(), 2*keepalive.Milliseconds())
	case dead < 2*keepalive:
		r.Warnf(deadAt, "dead-interval %d ms is less than twice keepalive-interval %d ms: one lost keep-alive makes the peer look gone",
			dead.Milliseconds(), keepalive.Milliseconds())
	}

	if mcast := c.Addr("mcast-group"); linkLocalControl.Contains(mcast) {
		r.Warnf(c.Child("mcast-group"), "%s is in 224.0.0.0/24, the link-local control block of routing protocols: prefer %s or one in 239.0.0.0/8",
			mcast, DefaultMulticastGroup)
	}
	if c.Has("peer") && c.Has("mcast-group") {
		r.Warnf(c.Child("mcast-group"), "unused: sync messages go by unicast to peer %s", c.Addr("peer"))
	}

	if c.Has("secret") {
		secret := c.Child("secret")
		switch n := utf8.RuneCountInString(c.String("secret")); {
		case n == 0:
			r.Errorf(secret, "the secret is empty: write at least %d characters, the same on both nodes, or delete secret to send unauthenticated messages", minSecret)
		case n < minSecret:
			r.Warnf(secret, "the secret is %d characters long: use at least %d so sync messages cannot be forged by guessing it", n, minSecret)
		}
	}
}

// checkMechanism: an empty failover-mechanism block names no group
// (CS-E01); both at once are MutuallyExclusive's error.
func checkMechanism(m hc.View, r *hc.Report) {
	if !m.Has("cluster") && !m.Has("vrrp") {
		r.Errorf(m, "no failover mechanism in the block: write %s", mechanismHint)
	}
}

// checkAcceptProtocol warns about protocols named twice (CS-C02).
func checkAcceptProtocol(l hc.View, r *hc.Report) {
	node := l.Node()
	for i, v := range node.Values() {
		if _, dups, err := ParseProtocols(v); err == nil && len(dups) > 0 {
			r.WarnfAt(node.ValuePos(i), l, "%s named more than once: the repeat is ignored", strings.Join(dups, ", "))
		}
	}
}

// checkExpectSync: `all` with other helpers is all (CS-C04).
func checkExpectSync(l hc.View, r *hc.Report) {
	node := l.Node()
	values := node.Values()
	all := slices.Index(values, expectAll)
	if all < 0 {
		return
	}
	var others []string
	for _, v := range values {
		if v != expectAll && !slices.Contains(others, v) {
			others = append(others, v)
		}
	}
	if len(others) > 0 {
		r.WarnfAt(node.ValuePos(all), l, "all already syncs every helper's expectations: expect-sync %s is redundant (delete it, or delete all to sync only the helpers named)",
			strings.Join(others, ", "))
	}
}

// checkIgnore warns about networks written with host bits and about an
// ignore-address that ignores everything (CS-C07).
func checkIgnore(l hc.View, r *hc.Report) {
	node := l.Node()
	for i, v := range node.Values() {
		p, err := ParseIgnore(v)
		if err != nil {
			continue // the type reported it
		}
		pos := node.ValuePos(i)
		if p.Bits() == 0 {
			r.WarnfAt(pos, l, "%s ignores every connection: nothing will be synced", v)
			continue
		}
		if written := strings.SplitN(v, "/", 2)[0]; written != p.Addr().String() {
			r.WarnfAt(pos, l, "%s has host bits set: it ignores the network %s (write that)", v, p)
		}
	}
}
