package server

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	hc "github.com/hasuite/hasuite/pkg/config"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// splitBrainShown is how long a resolved split brain stays in the status
// (CL-B21: "shown in status for 1 h").
const splitBrainShown = time.Hour

// statusMessage is the API form of the engine's status: what `show
// cluster status` prints and its --json.
func statusMessage(st engine.Status) *clusterv1.Status {
	if !st.Configured || st.Config == nil || !st.Config.Enabled {
		return &clusterv1.Status{} // CL-C01: "Clustering is not configured."
	}
	g := &st.Config.Group
	local := localRole(st)
	msg := &clusterv1.Status{
		Enabled:        true,
		Group:          g.Name,
		LocalNode:      st.NodeName,
		LocalRole:      local,
		ConfigMismatch: st.Peer.ConfigMismatch,
		Monitors:       monitorMessages(st.Monitors),
		Resources:      resourcesMessage(st),
		LastFailover:   lastFailover(st),
	}
	primary, secondary := nodeMessages(st)
	msg.Primary, msg.Secondary = primary, secondary
	if st.NotMember {
		// CL-B02, CL-Q14: say which name was used (--node-name sets it).
		msg.NotRunningReason = "This node " + st.NodeName + " is neither primary " + g.Primary + " nor secondary " +
			g.Secondary + ": the group does not run here."
		return msg
	}
	for _, sb := range st.View.SplitBrains {
		if st.Now.Sub(sb.At) <= splitBrainShown {
			msg.SplitBrains = append(msg.SplitBrains, splitBrainMessage(st, sb))
		}
	}
	if st.View.State == fsm.Init && st.View.InitRemaining > 0 {
		msg.WaitingForPeer = durationpb.New(st.View.InitRemaining)
	}
	return msg
}

// localRole is this node's role, ROLE_NONE when it is neither (CL-B02).
func localRole(st engine.Status) clusterv1.Role {
	return roleMessage(st.Config.Group.RoleOf(st.NodeName))
}

func roleMessage(r config.Role) clusterv1.Role {
	switch r {
	case config.RolePrimary:
		return clusterv1.Role_ROLE_PRIMARY
	case config.RoleSecondary:
		return clusterv1.Role_ROLE_SECONDARY
	}
	return clusterv1.Role_ROLE_NONE
}

// nodeMessages builds the primary and the secondary: one of them is this
// node (unless it is neither), the other the peer as its heartbeats
// describe it.
func nodeMessages(st engine.Status) (primary, secondary *clusterv1.Node) {
	g := &st.Config.Group
	hash := st.Config.Hash().String()
	nodes := map[config.Role]*clusterv1.Node{}
	for _, r := range []config.Role{config.RolePrimary, config.RoleSecondary} {
		name := g.Primary
		if r == config.RoleSecondary {
			name = g.Secondary
		}
		n := &clusterv1.Node{Name: name, Role: roleMessage(r), State: clusterv1.NodeState_NODE_STATE_UNKNOWN}
		nodes[r] = n
		if st.NotMember {
			continue // neither is this node, and it hears neither
		}
		if name == st.NodeName {
			fillLocalNode(n, st, hash)
		} else {
			fillPeerNode(n, st, hash)
		}
	}
	return nodes[config.RolePrimary], nodes[config.RoleSecondary]
}

func fillLocalNode(n *clusterv1.Node, st engine.Status, hash string) {
	n.ThisNode = true
	n.State = nodeStateMessage(st.View.Local)
	if st.UID != (wire.UID{}) {
		n.Uid = st.UID.String()
	}
	n.ConfigHash = hash
	n.MonitorsReachable, n.MonitorsTotal = uint32(st.View.LocalReachable), uint32(st.View.LocalTotal)
	for _, l := range st.Links {
		if l.Address != "" {
			n.Addresses = append(n.Addresses, l.Address)
		}
		link := &clusterv1.Link{Interface: l.Interface, State: clusterv1.LinkState_LINK_STATE_UP}
		if !l.Up {
			link.State = clusterv1.LinkState_LINK_STATE_NO_INTERFACE
		}
		n.Links = append(n.Links, link)
	}
}

func fillPeerNode(n *clusterv1.Node, st engine.Status, hash string) {
	p := st.Peer
	n.State = nodeStateMessage(st.View.Peer)
	heard := !p.LastHeard.IsZero()
	if heard {
		if p.UID != (wire.UID{}) {
			n.Uid = p.UID.String()
		}
		n.BootId = p.BootID
		n.LastHeard = timestamp(p.LastHeard)
		if p.Address != "" {
			n.Addresses = []string{p.Address}
		}
		// The heartbeat carries a hash, not the configuration: the
		// engine says whether it matches ours, and only then is it known.
		if !p.ConfigMismatch {
			n.ConfigHash = hash
		}
		n.MonitorsReachable, n.MonitorsTotal = uint32(st.View.PeerReachable), uint32(st.View.PeerTotal)
	}
	n.Links = peerLinks(st)
}

// peerLinks is the heartbeat path to the peer over each local cluster
// interface, in configuration order. The peer's address is known only for
// the link its last heartbeat came in on.
func peerLinks(st engine.Status) []*clusterv1.Link {
	latest := ""
	for ifname, t := range st.Peer.Links {
		if latest == "" || t.After(st.Peer.Links[latest]) || (t.Equal(st.Peer.Links[latest]) && ifname < latest) {
			latest = ifname
		}
	}
	var out []*clusterv1.Link
	for _, ifname := range st.Config.Interfaces {
		link := &clusterv1.Link{Interface: ifname, State: peerLinkState(st, ifname)}
		if t, ok := st.Peer.Links[ifname]; ok {
			link.LastHeard = timestamp(t)
			if ifname == latest {
				link.PeerAddress = st.Peer.Address
			}
		}
		out = append(out, link)
	}
	return out
}

// peerLinkState: up while heartbeats arrive within dead-interval, down
// after, unknown if never heard, no-interface when the local side cannot
// send or receive.
func peerLinkState(st engine.Status, ifname string) clusterv1.LinkState {
	for _, l := range st.Links {
		if l.Interface == ifname && !l.Up {
			return clusterv1.LinkState_LINK_STATE_NO_INTERFACE
		}
	}
	t, ok := st.Peer.Links[ifname]
	switch {
	case !ok || t.IsZero():
		return clusterv1.LinkState_LINK_STATE_UNKNOWN
	case st.Now.Sub(t) <= st.Config.DeadInterval:
		return clusterv1.LinkState_LINK_STATE_UP
	}
	return clusterv1.LinkState_LINK_STATE_DOWN
}

func nodeStateMessage(s fsm.NodeState) clusterv1.NodeState {
	switch s {
	case fsm.NodeActive:
		return clusterv1.NodeState_NODE_STATE_ACTIVE
	case fsm.NodeActiveStandby:
		return clusterv1.NodeState_NODE_STATE_ACTIVE_STANDBY
	case fsm.NodeDown:
		return clusterv1.NodeState_NODE_STATE_DOWN
	case fsm.NodeDownMonitor:
		return clusterv1.NodeState_NODE_STATE_DOWN_MONITOR
	}
	return clusterv1.NodeState_NODE_STATE_UNKNOWN
}

// monitorMessages: a monitor not yet answered and not yet overdue counts as
// reachable, as the state machine counts it (CL-B10).
func monitorMessages(ms []monitor.MonitorStatus) []*clusterv1.Monitor {
	var out []*clusterv1.Monitor
	for _, m := range ms {
		out = append(out, &clusterv1.Monitor{
			Address: m.Addr.String(), Reachable: m.State != monitor.Unreachable, LastReply: timestamp(m.LastReply),
		})
	}
	return out
}

func monitorStateMessage(s monitor.State) clusterv1.MonitorState {
	switch s {
	case monitor.Pending:
		return clusterv1.MonitorState_MONITOR_STATE_PENDING
	case monitor.Reachable:
		return clusterv1.MonitorState_MONITOR_STATE_REACHABLE
	case monitor.Unreachable:
		return clusterv1.MonitorState_MONITOR_STATE_UNREACHABLE
	}
	return clusterv1.MonitorState_MONITOR_STATE_UNSPECIFIED
}

// resourcesMessage: the services as the status names them, where they
// stand as a whole and who holds them.
func resourcesMessage(st engine.Status) *clusterv1.Resources {
	g := &st.Config.Group
	r := &clusterv1.Resources{Names: g.Resources(), State: clusterv1.ResourceState_RESOURCE_STATE_NOT_ACTIVE}
	if !st.NotMember {
		v := st.View
		switch v.Holder {
		case fsm.HolderLocal:
			switch v.Phase {
			case fsm.Preparing, fsm.Starting:
				r.State = clusterv1.ResourceState_RESOURCE_STATE_STARTING
			case fsm.Held:
				r.State = clusterv1.ResourceState_RESOURCE_STATE_ACTIVE
			case fsm.Stopping:
				r.State = clusterv1.ResourceState_RESOURCE_STATE_STOPPING
			}
			if r.State != clusterv1.ResourceState_RESOURCE_STATE_NOT_ACTIVE {
				r.Holder, r.HolderIsThisNode = st.NodeName, true
			}
		case fsm.HolderPeer:
			r.State = clusterv1.ResourceState_RESOURCE_STATE_ACTIVE
			if v.PeerReleasing {
				r.State = clusterv1.ResourceState_RESOURCE_STATE_STOPPING
			}
			r.Holder = g.Peer(g.RoleOf(st.NodeName))
		}
		if r.Holder != "" {
			r.HolderRole = roleMessage(g.RoleOf(r.Holder))
		}
	}
	for _, s := range st.Services {
		r.Services = append(r.Services, serviceMessage(s, st.View))
	}
	return r
}

func serviceMessage(s resources.ServiceState, v fsm.View) *clusterv1.Service {
	msg := &clusterv1.Service{
		Name:  s.Service.Display(),
		Spec:  s.Service.String(),
		Kind:  serviceKindMessage(s.Service.Kind),
		Since: timestamp(s.Since),
		Label: s.Service.Label,
		Error: s.Err,
	}
	if msg.Error == "" && s.Warning != "" {
		msg.Error = "warning: " + s.Warning
	}
	if len(s.Output) > 0 {
		msg.Output = strings.Join(s.Output, "\n")
	}
	switch s.Phase {
	case resources.Stopped:
		msg.State = clusterv1.ServiceState_SERVICE_STATE_STOPPED
	case resources.Starting:
		msg.State = clusterv1.ServiceState_SERVICE_STATE_STARTING
	case resources.Running:
		msg.State = clusterv1.ServiceState_SERVICE_STATE_RUNNING
	case resources.Stopping:
		msg.State = clusterv1.ServiceState_SERVICE_STATE_STOPPING
	case resources.Failed:
		// The resources package keeps one Failed phase for both; the
		// start failed when the machine still records a failed start.
		msg.State = clusterv1.ServiceState_SERVICE_STATE_STOP_FAILED
		if v.LocalFailed {
			msg.State = clusterv1.ServiceState_SERVICE_STATE_START_FAILED
		}
	}
	return msg
}

func serviceKindMessage(k config.ServiceKind) clusterv1.ServiceKind {
	switch k {
	case config.ServiceIP:
		return clusterv1.ServiceKind_SERVICE_KIND_IP
	case config.ServiceInit:
		return clusterv1.ServiceKind_SERVICE_KIND_INIT
	case config.ServiceScript:
		return clusterv1.ServiceKind_SERVICE_KIND_SCRIPT
	}
	return clusterv1.ServiceKind_SERVICE_KIND_UNSPECIFIED
}

// lastFailover is the engine's last acquisition or release as a move: the
// engine keeps its time and reason; the direction follows from who holds
// the resources now. An acquisition comes from the peer when something
// took them from it before (it died, this node released them once, a
// split brain), or it had been up for a dead-interval already; else it is
// the cluster's first start, from nobody.
func lastFailover(st engine.Status) *clusterv1.Failover {
	if st.LastFailover.IsZero() || st.NotMember {
		return nil
	}
	g := &st.Config.Group
	peer := g.Peer(g.RoleOf(st.NodeName))
	f := &clusterv1.Failover{Time: timestamp(st.LastFailover), Reason: st.LastFailoverWhy}
	if st.View.Holder == fsm.HolderLocal {
		f.ToNode = st.NodeName
		c, first := st.Counters, st.Peer.FirstHeard
		if c.PeerDeclaredDead > 0 || c.Releases > 0 || c.SplitBrains > 0 ||
			(!first.IsZero() && st.LastFailover.Sub(first) > st.Config.DeadInterval) {
			f.FromNode = peer
		}
	} else {
		f.FromNode, f.ToNode = st.NodeName, peer
	}
	return f
}

func splitBrainMessage(st engine.Status, sb fsm.SplitBrain) *clusterv1.SplitBrain {
	g := &st.Config.Group
	peer := g.Peer(g.RoleOf(st.NodeName))
	msg := &clusterv1.SplitBrain{Time: timestamp(sb.At), KeptBy: peer, ReleasedBy: st.NodeName, Rule: sb.Reason}
	if sb.LocalWon {
		msg.KeptBy, msg.ReleasedBy = st.NodeName, peer
	}
	return msg
}

// statisticsMessage is `show cluster statistics`: the engine's counters,
// and per link and monitor what the status knows of them.
func statisticsMessage(st engine.Status, since time.Time) *clusterv1.ShowStatisticsResponse {
	if !st.Configured || st.Config == nil || !st.Config.Enabled {
		return &clusterv1.ShowStatisticsResponse{}
	}
	c := st.Counters
	drops := func(reasons ...wire.DropReason) uint64 {
		var n uint64
		for _, r := range reasons {
			n += c.Drops[r.String()]
		}
		return n
	}
	resp := &clusterv1.ShowStatisticsResponse{
		Group:     st.Config.Group.Name,
		LocalNode: st.NodeName,
		Since:     timestamp(since),
		Heartbeats: &clusterv1.HeartbeatStatistics{
			Sent:          c.HeartbeatsSent,
			Received:      c.HeartbeatsReceived,
			AuthFailures:  drops(wire.DropBadMAC),
			Replays:       drops(wire.DropReplay),
			Malformed:     drops(wire.DropMalformed, wire.DropNotHeartbeat, wire.DropVersion),
			UnknownSender: drops(wire.DropUnknownNode, wire.DropDuplicateName),
			SendErrors:    c.SendErrors,
			// Episodes (CL-B06), not heartbeats: one reload on one node
			// must not read as thousands.
			ConfigMismatches: c.ConfigMismatches,
		},
		Takeovers:            c.Acquisitions,
		Releases:             c.Releases,
		PeerDeclaredDead:     c.PeerDeclaredDead,
		SplitBrains:          c.SplitBrains,
		ServiceStartFailures: c.StartFailures,
		ServiceStopFailures:  c.StopFailures,
		GateDeadlinesMissed:  c.GateDeadlines,
		GateHolderFailures:   c.GateFailures,
	}
	if !st.NotMember {
		for _, l := range peerLinks(st) {
			lc := c.Links[l.Interface]
			ls := &clusterv1.LinkStatistics{
				Interface: l.Interface, State: l.State,
				Sent: lc.Sent, Received: lc.Received, AuthFailures: lc.AuthFailures, SendErrors: lc.SendErrors,
				FirstHeard: timestamp(lc.FirstReceived), LastHeard: timestamp(lc.LastReceived),
				TimesDown: lc.TimesDown(st.Now, st.Config.DeadInterval),
			}
			if ls.LastHeard == nil {
				ls.LastHeard = l.LastHeard
			}
			if l.State == clusterv1.LinkState_LINK_STATE_UP {
				ls.AliveSince = timestamp(lc.AliveSince)
			}
			resp.Links = append(resp.Links, ls)
		}
	}
	for _, m := range st.Monitors {
		resp.Monitors = append(resp.Monitors, &clusterv1.MonitorStatistics{
			Address: m.Addr.String(), Reachable: m.State != monitor.Unreachable, State: monitorStateMessage(m.State),
			PingsSent: m.Sent, Replies: m.Replies, TimesUnreachable: m.TimesUnreachable, LastReply: timestamp(m.LastReply),
		})
	}
	if f := lastFailover(st); f != nil {
		resp.Failovers = []*clusterv1.Failover{f}
	}
	return resp
}

// diagnostics converts a configuration error (hc.Diagnostics, each with
// its place) and warnings into API diagnostics.
func diagnostics(err error, warnings hc.Diagnostics) []*clusterv1.Diagnostic {
	var out []*clusterv1.Diagnostic
	add := func(sev clusterv1.Severity, d *hc.Diagnostic) {
		out = append(out, &clusterv1.Diagnostic{
			Severity: sev, File: d.File, Line: uint32(d.Line), Column: uint32(d.Col),
			Path: d.Path.String(), Message: d.Msg,
		})
	}
	if err != nil {
		var diags hc.Diagnostics
		var one *hc.Diagnostic
		switch {
		case errors.As(err, &diags):
			for _, d := range diags {
				add(clusterv1.Severity_SEVERITY_ERROR, d)
			}
		case errors.As(err, &one):
			add(clusterv1.Severity_SEVERITY_ERROR, one)
		default:
			out = append(out, &clusterv1.Diagnostic{Severity: clusterv1.Severity_SEVERITY_ERROR, Message: err.Error()})
		}
	}
	for _, d := range warnings {
		add(clusterv1.Severity_SEVERITY_WARNING, d)
	}
	return out
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// logRecord is the API form of a log ring entry.
func logRecord(e daemon.LogEntry) *clusterv1.LogRecord {
	msg := &clusterv1.LogRecord{Time: timestamp(e.Time), Level: e.Level.String(), Message: e.Message}
	for _, a := range e.Attrs {
		msg.Attrs = append(msg.Attrs, &clusterv1.LogAttr{Key: a.Key, Value: a.Value})
	}
	return msg
}
