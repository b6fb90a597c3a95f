package show

import (
	"fmt"
	"strings"
	"time"

	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// counterWidth is where counter values start in `show cluster statistics`.
const counterWidth = 26

// Statistics renders `show cluster statistics` (beyond the guide; the
// counters of CL-B05 and CL-B21, and PacketiX's first/current/last
// contact per link): heartbeats, each link, each monitor, the resources'
// moves.
func Statistics(s *clusterv1.ShowStatisticsResponse, now time.Time) string {
	if s.GetGroup() == "" {
		return NotConfigured
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster group %s on %s, counting since %s\n", s.GetGroup(), s.GetLocalNode(), stamp(now, s.GetSince()))
	counter := func(label string, n uint64) { field(&b, "  ", label, counterWidth, n) }

	h := s.GetHeartbeats()
	b.WriteString("\nHeartbeats:\n")
	counter("Sent", h.GetSent())
	counter("Received", h.GetReceived())
	counter("Authentication failures", h.GetAuthFailures())
	counter("Replays", h.GetReplays())
	counter("Malformed", h.GetMalformed())
	counter("Unknown sender", h.GetUnknownSender())
	counter("Send errors", h.GetSendErrors())
	counter("Config mismatches", h.GetConfigMismatches())

	b.WriteString("\nLinks:\n")
	if len(s.GetLinks()) == 0 {
		b.WriteString("  none\n")
	}
	for _, l := range s.GetLinks() {
		fmt.Fprintf(&b, "  %s: %s, sent %d, send errors %d, received %d, authentication failures %d, down %s\n",
			l.GetInterface(), linkState(l.GetState()), l.GetSent(), l.GetSendErrors(), l.GetReceived(), l.GetAuthFailures(),
			times(l.GetTimesDown()))
		field(&b, "    ", "First heard", 12, stamp(now, l.GetFirstHeard()))
		field(&b, "    ", "Alive since", 12, stamp(now, l.GetAliveSince()))
		field(&b, "    ", "Last heard", 12, stamp(now, l.GetLastHeard()))
	}

	b.WriteString("\nMonitors:\n")
	if len(s.GetMonitors()) == 0 {
		b.WriteString("  none\n")
	}
	for _, m := range s.GetMonitors() {
		fmt.Fprintf(&b, "  %s: %s, pings %d, replies %d, unreachable %s, last reply %s\n",
			m.GetAddress(), monitorState(m), m.GetPingsSent(), m.GetReplies(), times(m.GetTimesUnreachable()), age(now, m.GetLastReply()))
	}

	b.WriteString("\nResources:\n")
	counter("Takeovers", s.GetTakeovers())
	counter("Releases", s.GetReleases())
	counter("Peer declared dead", s.GetPeerDeclaredDead())
	counter("Split brains", s.GetSplitBrains())
	counter("Service start failures", s.GetServiceStartFailures())
	counter("Service stop failures", s.GetServiceStopFailures())
	counter("Gate deadlines missed", s.GetGateDeadlinesMissed())
	counter("Gate holder failures", s.GetGateHolderFailures())

	b.WriteString("\nFailovers:\n")
	if len(s.GetFailovers()) == 0 {
		b.WriteString("  none\n")
	}
	for _, f := range s.GetFailovers() {
		fmt.Fprintf(&b, "  %s  %s\n", f.GetTime().AsTime().UTC().Format(timeLayout), failover(f))
	}
	return b.String()
}

// monitorState is the monitor's state word; Pending (not answered yet,
// counted as reachable) only here, as `show cluster status` keeps the
// guide's two words.
func monitorState(m *clusterv1.MonitorStatistics) string {
	switch m.GetState() {
	case clusterv1.MonitorState_MONITOR_STATE_PENDING:
		return "Pending"
	case clusterv1.MonitorState_MONITOR_STATE_REACHABLE:
		return "Reachable"
	case clusterv1.MonitorState_MONITOR_STATE_UNREACHABLE:
		return "Unreachable"
	}
	if m.GetReachable() { // a daemon that does not send the state
		return "Reachable"
	}
	return "Unreachable"
}

// failover is "R1 -> R2: reason" ("-> R1" at the first start).
func failover(f *clusterv1.Failover) string {
	out := "-> " + f.GetToNode()
	if f.GetFromNode() != "" {
		out = f.GetFromNode() + " " + out
	}
	if f.GetReason() != "" {
		out += ": " + f.GetReason()
	}
	return out
}
