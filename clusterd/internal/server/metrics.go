package server

import (
	"context"

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
	{"clusterd_split_brains_total", "Split brains resolved (CL-B21).", func(c engine.Counters) uint64 { return c.SplitBrains }},
}

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
	perCounter := make([]metrics.Family, len(counters))
	for i, c := range counters {
		perCounter[i] = metrics.Family{Name: c.name, Help: c.help, Type: metrics.Counter}
	}
	fams := func() []metrics.Family {
		return append([]metrics.Family{state, peerAlive, mismatch, reachable, reachableCount, monitorsTotal, dropped}, perCounter...)
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
		gauge(&reachable, ok, metrics.L("group", group, "monitor", m.Addr.String())...)
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
