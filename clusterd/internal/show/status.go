package show

import (
	"fmt"
	"strings"

	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// NotConfigured is what `show cluster status` prints when the
// configuration has no `cluster` node (CL-C01).
const NotConfigured = "Clustering is not configured.\n"

// Status renders `show cluster status` (CL-O01): the header, the primary
// and the secondary, the monitors as this node sees them, then the
// resources and who holds them, sections separated by blank lines. The
// text keeps the guide's words; everything else the Status carries (last
// failover, split brains, the startup wait, a configuration mismatch) is
// for --json and `show cluster statistics`.
func Status(s *clusterv1.Status) string {
	if !s.GetEnabled() {
		return NotConfigured
	}
	var b strings.Builder
	if role := roleWord(s.GetLocalRole()); role != "" {
		fmt.Fprintf(&b, "=== Status report on %s node %s ===\n", role, s.GetLocalNode())
	} else {
		fmt.Fprintf(&b, "=== Status report on node %s ===\n", s.GetLocalNode())
	}
	if reason := s.GetNotRunningReason(); reason != "" {
		fmt.Fprintf(&b, "\n%s\n", reason)
	}
	for _, n := range []*clusterv1.Node{s.GetPrimary(), s.GetSecondary()} {
		fmt.Fprintf(&b, "\n%s %s%s: %s\n", capitalized(roleWord(n.GetRole())), n.GetName(), thisNode(n.GetThisNode()),
			nodeState(n.GetState(), n.GetThisNode()))
	}
	if len(s.GetMonitors()) > 0 {
		b.WriteByte('\n')
		for _, m := range s.GetMonitors() {
			state := "Unreachable"
			if m.GetReachable() {
				state = "Reachable"
			}
			fmt.Fprintf(&b, "Monitor %s: %s\n", m.GetAddress(), state)
		}
	}
	r := s.GetResources()
	fmt.Fprintf(&b, "\nResources [%s]:\n  %s\n", strings.Join(r.GetNames(), " "), holderLine(r))
	return b.String()
}

// holderLine is the indented line under Resources (CL-O01; the guide lost
// the indentation of some examples in extraction, CL-Q07).
func holderLine(r *clusterv1.Resources) string {
	var verb string
	switch r.GetState() {
	case clusterv1.ResourceState_RESOURCE_STATE_STARTING:
		verb = "Starting"
	case clusterv1.ResourceState_RESOURCE_STATE_ACTIVE:
		verb = "Active"
	case clusterv1.ResourceState_RESOURCE_STATE_STOPPING:
		verb = "Stopping"
	default:
		return "Not active"
	}
	if r.GetHolder() == "" {
		return "Not active"
	}
	on := r.GetHolder()
	if role := roleWord(r.GetHolderRole()); role != "" {
		on = role + " " + on
	}
	return verb + " on " + on + thisNode(r.GetHolderIsThisNode())
}

// nodeState is the guide's word for a node's state. A lost monitor reads
// "monitor not reachable" for this node and "monitor node not reachable"
// for the peer, both as the guide prints them (CL-Q07).
func nodeState(st clusterv1.NodeState, local bool) string {
	switch st {
	case clusterv1.NodeState_NODE_STATE_ACTIVE:
		return "Active"
	case clusterv1.NodeState_NODE_STATE_ACTIVE_STANDBY:
		return "Active (standby)"
	case clusterv1.NodeState_NODE_STATE_DOWN:
		return "Down"
	case clusterv1.NodeState_NODE_STATE_DOWN_MONITOR:
		if local {
			return "Down (at least 1 monitor not reachable)"
		}
		return "Down (at least 1 monitor node not reachable)"
	}
	// Before the peer was ever heard: "Down" would suggest a failure.
	return "Unknown"
}

// thisNode marks the local node, always after a space (Example 3-10's
// "R2(this node)" is a typo, CL-Q07).
func thisNode(is bool) string {
	if is {
		return " (this node)"
	}
	return ""
}

func roleWord(r clusterv1.Role) string {
	switch r {
	case clusterv1.Role_ROLE_PRIMARY:
		return "primary"
	case clusterv1.Role_ROLE_SECONDARY:
		return "secondary"
	}
	return ""
}

func capitalized(s string) string {
	if s == "" {
		return "Node"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
