package server

import (
	"context"
	"strings"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/metrics"
)

// states are every bus state of the group, for the one-sample-per-state
// gauge a dashboard can sum or alert on (`clusterd_state{state="DOWN"} == 1`).
var states = []fsm.State{fsm.Init, fsm.Active, fsm.Standby, fsm.Down}

// counter is one of the engine's counters as a metric.
type counter struct {
	name, help string
	value      func(engine.Counters) uint64
}

var counters = []counter{
	{"clusterd_heartbeats_sent_total", "Heartbeats sent, over all cluster interfaces.", func(c engine.Counters) uint64 { return c.HeartbeatsSent }},
	{"clusterd_heartbeats_received_total", "Heartbeats received and accepted.", func(c engine.Counters) uint64 { return c.HeartbeatsReceived }},
	{"clusterd_heartbeat_send_errors_total", "Heartbeats the kernel refused to send.", func(c engine.Counters) uint64 { return c.SendErrors }},
	{"clusterd_peer_declared_dead_total", "Times the peer was declared dead (dead-interval without a heartbeat).", func(c engine.Counters) uint64 { return c.PeerDeclaredDead }},
	{"clusterd_acquisitions_total", "Times this node took the resources (failovers to it).", func(c engine.Counters) uint64 { return c.Acquisitions }},
	{"clusterd_releases_total", "Times this node gave the resources up (failovers from it).", func(c engine.Counters) uint64 { return c.Releases }},
	{"clusterd_service_start_failures_total", "Resource starts that failed (CL-B14).", func(c engine.Counters) uint64 { return c.StartFailures }},
	{"clusterd_service_stop_failures_total", "Resource releases where a service failed to stop (CL-Q15).", func(c engine.Counters) uint64 { return c.StopFailures }},
	{"clusterd_gate_deadlines_missed_total", "Takeover gate waits the deadline ended before every holder answered.", func(c engine.Counters) uint64 { return c.GateDeadlines }},
	{"clusterd_gate_holder_failures_total", "Takeover gate waits where a holder failed or disconnected.", func(c engine.Counters) uint64 { return c.GateFailures }},
	{"clusterd_peer_config_mismatches_total", "Times the peer's configuration hash started to differ from ours (CL-B06).", func(c engine.Counters) uint64 { return c.ConfigMismatches }},
	{"clusterd_split_brains_total", "Split brains resolved (CL-B21).", func(c engine.Counters) uint64 { return c.SplitBrains }},
}

// linkCounter is one of the per-interface counters as a metric.
type linkCounter struct {
	name, help string
	value      func(engine.LinkCounters) uint64
}

var linkCounters = []linkCounter{
	{"clusterd_link_heartbeats_sent_total", "Heartbeats sent on the cluster interface.", func(l engine.LinkCounters) uint64 { return l.Sent }},
	{"clusterd_link_heartbeats_received_total", "The peer's heartbeats accepted on the cluster interface.", func(l engine.LinkCounters) uint64 { return l.Received }},
	{"clusterd_link_heartbeat_send_errors_total", "Heartbeats the kernel refused to send on the cluster interface.", func(l engine.LinkCounters) uint64 { return l.SendErrors }},
	{"clusterd_link_auth_failures_total", "Messages dropped on the cluster interface for a bad MAC (CL-B05).", func(l engine.LinkCounters) uint64 { return l.AuthFailures }},
}

// monitorStates are the states of clusterd_monitor_state.
var monitorStates = []monitor.State{monitor.Pending, monitor.Reachable, monitor.Unreachable}

// Metrics is the collector behind --metrics-listen: the group's state, the
// peer's liveness, the monitors and the heartbeat and failover counters,
// labelled with the group's name. With clustering off every family is
// empty.
func (s *Server) Metrics(ctx context.Context) ([]metrics.Family, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	state := metrics.Family{Name: "clusterd_state", Type: metrics.Gauge,
		Help: "1 for the state the group is in on this node (as on the bus), 0 for the others."}
	peerAlive := metrics.Family{Name: "clusterd_peer_alive", Type: metrics.Gauge,
		Help: "1 while heartbeats from the peer arrive within dead-interval."}
	mismatch := metrics.Family{Name: "clusterd_peer_config_mismatch", Type: metrics.Gauge,
		Help: "1 when the peer's configuration hash differs from ours (CL-B06)."}
	reachable := metrics.Family{Name: "clusterd_monitor_reachable", Type: metrics.Gauge,
		Help: "1 while the monitor node answers pings within monitor-dead-interval (CL-B10)."}
	reachableCount := metrics.Family{Name: "clusterd_monitors_reachable", Type: metrics.Gauge,
		Help: "Monitor nodes this node reaches."}
	monitorsTotal := metrics.Family{Name: "clusterd_monitors", Type: metrics.Gauge,
		Help: "Monitor nodes configured."}
	dropped := metrics.Family{Name: "clusterd_heartbeats_dropped_total", Type: metrics.Counter,
		Help: "Received messages dropped, by reason (bad_mac: another pre-shared-secret; replay; malformed ...)."}
	monState := metrics.Family{Name: "clusterd_monitor_state", Type: metrics.Gauge,
		Help: "1 for the monitor's state (PENDING: not answered yet, counted as reachable), 0 for the others."}
	echoSent := metrics.Family{Name: "clusterd_monitor_echo_requests_total", Type: metrics.Counter,
		Help: "Echo requests sent to the monitor node since it was configured."}
	echoReplies := metrics.Family{Name: "clusterd_monitor_echo_replies_total", Type: metrics.Counter,
		Help: "Echo replies received from the monitor node since it was configured."}
	lastReply := metrics.Family{Name: "clusterd_monitor_last_reply_timestamp_seconds", Type: metrics.Gauge,
		Help: "When the monitor node last answered (Unix time); absent if never."}
	lastHeard := metrics.Family{Name: "clusterd_link_last_heard_timestamp_seconds", Type: metrics.Gauge,
		Help: "When the peer's last heartbeat arrived on the cluster interface (Unix time); absent if never."}
	perCounter := make([]metrics.Family, len(counters))
	for i, c := range counters {
		perCounter[i] = metrics.Family{Name: c.name, Help: c.help, Type: metrics.Counter}
	}
	perLink := make([]metrics.Family, len(linkCounters))
	for i, c := range linkCounters {
		perLink[i] = metrics.Family{Name: c.name, Help: c.help, Type: metrics.Counter}
	}
	fams := func() []metrics.Family {
		out := []metrics.Family{state, peerAlive, mismatch, reachable, reachableCount, monitorsTotal, dropped,
			monState, echoSent, echoReplies, lastReply, lastHeard}
		return append(append(out, perCounter...), perLink...)
	}
	if !st.Configured || st.Config == nil || !st.Config.Enabled {
		return fams(), nil
	}
	group := st.Config.Group.Name
	label := metrics.L("group", group)
	gauge := func(f *metrics.Family, on bool, labels ...metrics.Label) {
		v := 0.0
		if on {
			v = 1
		}
		f.Samples = append(f.Samples, metrics.Sample{Labels: labels, Value: v})
	}
	if !st.NotMember {
		for _, s := range states {
			gauge(&state, st.View.State == s, metrics.L("group", group, "state", s.String())...)
		}
		p := st.View.Peer
		gauge(&peerAlive, p == fsm.NodeActive || p == fsm.NodeActiveStandby || p == fsm.NodeDownMonitor, label...)
	}
	gauge(&mismatch, st.Peer.ConfigMismatch, label...)
	n := 0
	for _, m := range st.Monitors {
		ok := m.State != monitor.Unreachable
		if ok {
			n++
		}
		mon := metrics.L("group", group, "monitor", m.Addr.String())
		gauge(&reachable, ok, mon...)
		for _, s := range monitorStates {
			gauge(&monState, m.State == s, metrics.L("group", group, "monitor", m.Addr.String(), "state", strings.ToUpper(s.String()))...)
		}
		echoSent.Samples = append(echoSent.Samples, metrics.Sample{Labels: mon, Value: float64(m.Sent)})
		echoReplies.Samples = append(echoReplies.Samples, metrics.Sample{Labels: mon, Value: float64(m.Replies)})
		if !m.LastReply.IsZero() {
			lastReply.Samples = append(lastReply.Samples, metrics.Sample{Labels: mon, Value: unixSeconds(m.LastReply)})
		}
	}
	// The configured interfaces, in order: an interface a reload removed
	// keeps its counters in the engine but is no longer scraped.
	for _, ifname := range st.Config.Interfaces {
		l := st.Counters.Links[ifname]
		labels := metrics.L("group", group, "interface", ifname)
		for i, c := range linkCounters {
			perLink[i].Samples = append(perLink[i].Samples, metrics.Sample{Labels: labels, Value: float64(c.value(l))})
		}
		if !l.LastReceived.IsZero() {
			lastHeard.Samples = append(lastHeard.Samples, metrics.Sample{Labels: labels, Value: unixSeconds(l.LastReceived)})
		}
	}
	reachableCount.Samples = []metrics.Sample{{Labels: label, Value: float64(n)}}
	monitorsTotal.Samples = []metrics.Sample{{Labels: label, Value: float64(len(st.Monitors))}}
	for _, r := range wire.DropReasons() {
		dropped.Samples = append(dropped.Samples, metrics.Sample{
			Labels: metrics.L("group", group, "reason", r.String()), Value: float64(st.Counters.Drops[r.String()]),
		})
	}
	for i, c := range counters {
		perCounter[i].Samples = []metrics.Sample{{Labels: label, Value: float64(c.value(st.Counters))}}
	}
	return fams(), nil
}

// unixSeconds is t as Prometheus timestamps go: seconds, to the
// millisecond.
func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
