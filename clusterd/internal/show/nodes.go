package show

import (
	"fmt"
	"strings"
	"time"

	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// nodeWidth is where values start in `show cluster nodes`.
const nodeWidth = 16

// Nodes renders `show cluster nodes` (beyond the guide; ICS CUBE's member
// list): one block per node, primary first, with its unique id, the
// addresses its heartbeats use, the age of its last heartbeat and the
// state of each heartbeat link.
func Nodes(nodes []*clusterv1.Node, now time.Time) string {
	if len(nodes) == 0 {
		return NotConfigured
	}
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "Node %s%s: %s, %s\n", n.GetName(), thisNode(n.GetThisNode()), orNone(roleWord(n.GetRole())),
			nodeState(n.GetState(), n.GetThisNode()))
		field(&b, "  ", "UID", nodeWidth, orDash(n.GetUid()))
		field(&b, "  ", "Addresses", nodeWidth, orDash(strings.Join(n.GetAddresses(), " ")))
		if !n.GetThisNode() {
			field(&b, "  ", "Last heartbeat", nodeWidth, age(now, n.GetLastHeard()))
			monitors := "unknown"
			if n.GetLastHeard() != nil {
				monitors = fmt.Sprintf("%d of %d reachable", n.GetMonitorsReachable(), n.GetMonitorsTotal())
			}
			field(&b, "  ", "Monitors", nodeWidth, monitors)
		}
		field(&b, "  ", "Config hash", nodeWidth, orDash(short(n.GetConfigHash())))
		if n.GetThisNode() {
			names := make([]string, len(n.GetLinks()))
			for i, l := range n.GetLinks() {
				names[i] = l.GetInterface()
			}
			field(&b, "  ", "Links", nodeWidth, orDash(strings.Join(names, " ")))
			continue
		}
		b.WriteString("  Links:\n")
		if len(n.GetLinks()) == 0 {
			b.WriteString("    none\n")
		}
		for _, l := range n.GetLinks() {
			fmt.Fprintf(&b, "    %-*s %-12s", 15, l.GetInterface(), linkState(l.GetState()))
			if l.GetPeerAddress() != "" {
				fmt.Fprintf(&b, " from %s,", l.GetPeerAddress())
			}
			fmt.Fprintf(&b, " last %s\n", age(now, l.GetLastHeard()))
		}
	}
	return b.String()
}

func linkState(s clusterv1.LinkState) string {
	switch s {
	case clusterv1.LinkState_LINK_STATE_UP:
		return "up"
	case clusterv1.LinkState_LINK_STATE_DOWN:
		return "down"
	case clusterv1.LinkState_LINK_STATE_NO_INTERFACE:
		return "no-interface"
	}
	return "unknown"
}

// short is the first 12 hex digits of a hash, enough to compare by eye.
func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no role"
	}
	return s
}
