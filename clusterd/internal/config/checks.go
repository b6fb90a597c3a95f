package config

import (
	"net/netip"
	"strconv"
	"unicode/utf8"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// checkCluster applies the rules between the cluster's nodes (CL-E02,
// CL-E05, and the warnings of CL-C02, CL-C11, CL-C13).
func checkCluster(c hc.View, r *hc.Report) {
	groups := c.Instances("group")
	for _, g := range groups[1:] {
		r.Errorf(g, "only one group is supported (the guide's limit): move its services into group %s", groups[0].Tag())
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
		r.Warnf(deadAt, "dead-interval %d ms is less than twice keepalive-interval %d ms: one lost heartbeat declares the peer dead",
			dead.Milliseconds(), keepalive.Milliseconds())
	}
	if md := c.Duration("monitor-dead-interval"); md < 2*keepalive {
		at := c.Child("monitor-dead-interval")
		if !at.Exists() {
			at = c.Child("keepalive-interval")
		}
		r.Warnf(at, "monitor-dead-interval %d ms is less than twice keepalive-interval %d ms (monitors are pinged once per keepalive): one lost reply makes a monitor unreachable",
			md.Milliseconds(), keepalive.Milliseconds())
	}

	if mcast := c.Addr("mcast-group"); linkLocalControl.Contains(mcast) {
		r.Warnf(c.Child("mcast-group"), "%s is in 224.0.0.0/24, the link-local control block of routing protocols: prefer 239.0.0.0/8", mcast)
	}
	if c.Has("peer-address") && c.Has("mcast-group") {
		r.Warnf(c.Child("mcast-group"), "unused: heartbeats go by unicast to peer-address")
	}

	secret := c.Child("pre-shared-secret")
	switch n := utf8.RuneCountInString(c.String("pre-shared-secret")); {
	case n == 0:
		r.Errorf(secret, "the secret is empty: write at least %d characters, the same on both nodes", minSecret)
	case n < minSecret:
		r.Warnf(secret, "the secret is %d characters long: use at least %d so heartbeats cannot be forged by guessing it", n, minSecret)
	}
}

// checkGroup applies the rules inside the group (CL-E02, CL-E06, CL-B13,
// CL-Q02).
func checkGroup(g hc.View, r *hc.Report) {
	if p := g.String("primary"); p == g.String("secondary") {
		r.Errorf(g.Child("secondary"), "the secondary is %s, the primary too: name the two nodes of the cluster", p)
	}

	at := g.Child("service")
	node := at.Node()
	values := node.Values()
	services := make([]Service, len(values))
	for i, v := range values {
		services[i], _ = ParseService(v) // the type checked it
	}
	AssignLabels(services)
	firstIP := map[netip.Addr]int{}
	for i, s := range services {
		pos := node.ValuePos(i)
		if s.Kind != ServiceIP {
			continue
		}
		if j, dup := firstIP[s.Addr.Addr()]; dup {
			r.ErrorfAt(pos, at, "cluster IP %s is already the service %s at %s: a cluster IP is listed once",
				s.Addr.Addr(), services[j].Raw, lineCol(node.ValuePos(j)))
			continue
		}
		firstIP[s.Addr.Addr()] = i
		if s.InterfaceDefaulted {
			r.WarnfAt(pos, at, "%s names no interface: it goes on %s, the guide's default; write %s/IF to choose",
				s.Raw, DefaultServiceInterface, s.Addr)
		}
		if len(s.Label) > maxLabel {
			r.ErrorfAt(pos, at, "the alias label %s is longer than %d characters: Linux cannot set it (use a shorter interface name)",
				s.Label, maxLabel)
		}
	}
}

func lineCol(p hc.Pos) string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }
