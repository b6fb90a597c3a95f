package server

import (
	"context"

	"github.com/hasuite/hasuite/pkg/metrics"
	"github.com/hasuite/hasuite/vrrpd/internal/engine"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// states are every state a group can be in, for the one-sample-per-state
// gauge a dashboard can sum or alert on (`vrrpd_group_state{state="FAULT"} == 1`).
var states = []fsm.State{fsm.Init, fsm.Backup, fsm.Master, fsm.Fault, fsm.Disabled}

// counter is one Example 2-16 counter as a metric.
type counter struct {
	name, help string
	value      func(engine.Counters) uint64
	// reason, when set, puts the counter into vrrpd_adverts_dropped_total.
	reason string
}

var counters = []counter{
	{name: "vrrpd_adverts_received_total", help: "Adverts received and accepted.", value: func(c engine.Counters) uint64 { return c.AdvertsReceived }},
	{name: "vrrpd_adverts_sent_total", help: "Adverts sent.", value: func(c engine.Counters) uint64 { return c.AdvertsSent }},
	{name: "vrrpd_advert_send_errors_total", help: "Adverts the kernel refused to send (a unicast peer without a route, a link gone).", value: func(c engine.Counters) uint64 { return c.SendErrors }},
	{name: "vrrpd_became_master_total", help: "Transitions into MASTER.", value: func(c engine.Counters) uint64 { return c.BecameMaster }},
	{name: "vrrpd_released_master_total", help: "Transitions out of MASTER.", value: func(c engine.Counters) uint64 { return c.ReleasedMaster }},
	{name: "vrrpd_priority_zero_sent_total", help: "Priority-0 (resignation) adverts sent.", value: func(c engine.Counters) uint64 { return c.Priority0Sent }},
	{name: "vrrpd_priority_zero_received_total", help: "Priority-0 (resignation) adverts received.", value: func(c engine.Counters) uint64 { return c.Priority0Received }},
	{reason: "length", value: func(c engine.Counters) uint64 { return c.PacketLengthErrors }},
	{reason: "ttl", value: func(c engine.Counters) uint64 { return c.TTLErrors }},
	{reason: "invalid_type", value: func(c engine.Counters) uint64 { return c.InvalidTypeErrors }},
	{reason: "interval", value: func(c engine.Counters) uint64 { return c.IntervalErrors }},
	{reason: "address_list", value: func(c engine.Counters) uint64 { return c.AddressListErrors }},
	{reason: "auth_invalid_type", value: func(c engine.Counters) uint64 { return c.AuthInvalidType }},
	{reason: "auth_type_mismatch", value: func(c engine.Counters) uint64 { return c.AuthTypeMismatch }},
	{reason: "auth_failure", value: func(c engine.Counters) uint64 { return c.AuthFailures }},
}

// Metrics is the collector behind --metrics-listen: every group's state,
// priority and Example 2-16 counters, labelled with the bus name of the
// group ("eth0/99").
func (s *Server) Metrics(ctx context.Context) ([]metrics.Family, error) {
	groups, err := s.status(ctx, nil)
	if err != nil {
		return nil, err
	}
	state := metrics.Family{Name: "vrrpd_group_state", Type: metrics.Gauge,
		Help: "1 for the state the group is in, 0 for the others."}
	priority := metrics.Family{Name: "vrrpd_group_priority", Type: metrics.Gauge,
		Help: "The group's configured priority (255: address owner)."}
	since := metrics.Family{Name: "vrrpd_group_state_since_seconds", Type: metrics.Gauge,
		Help: "Unix time the group entered its current state."}
	takeover := metrics.Family{Name: "vrrpd_last_takeover_seconds", Type: metrics.Gauge,
		Help: "The last way to MASTER, from the claim to the VIPs in the kernel (takeover gates included)."}
	dropped := metrics.Family{Name: "vrrpd_adverts_dropped_total", Type: metrics.Counter,
		Help: "Received adverts dropped, by the check they failed (Example 2-16)."}
	perCounter := make([]metrics.Family, 0, len(counters))
	for _, c := range counters {
		if c.reason == "" {
			perCounter = append(perCounter, metrics.Family{Name: c.name, Help: c.help, Type: metrics.Counter})
		}
	}
	for _, g := range groups {
		group := g.Config.Key.String()
		for _, st := range states {
			v := 0.0
			if g.State == st {
				v = 1
			}
			state.Samples = append(state.Samples, metrics.Sample{Labels: metrics.L("group", group, "state", st.String()), Value: v})
		}
		label := metrics.L("group", group)
		priority.Samples = append(priority.Samples, metrics.Sample{Labels: label, Value: float64(g.Config.Priority)})
		if !g.LastTransition.IsZero() {
			since.Samples = append(since.Samples, metrics.Sample{Labels: label, Value: float64(g.LastTransition.UnixNano()) / 1e9})
		}
		if t := g.LastTakeover; !t.Claimed.IsZero() && !t.VIPsAdded.IsZero() {
			takeover.Samples = append(takeover.Samples, metrics.Sample{Labels: label, Value: t.VIPsAdded.Sub(t.Claimed).Seconds()})
		}
		i := 0
		for _, c := range counters {
			v := float64(c.value(g.Counters))
			if c.reason != "" {
				dropped.Samples = append(dropped.Samples, metrics.Sample{Labels: metrics.L("group", group, "reason", c.reason), Value: v})
				continue
			}
			perCounter[i].Samples = append(perCounter[i].Samples, metrics.Sample{Labels: label, Value: v})
			i++
		}
	}
	return append([]metrics.Family{state, priority, since, takeover, dropped}, perCounter...), nil
}
