package server

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hasuite/hasuite/pkg/bus"
	hc "github.com/hasuite/hasuite/pkg/config"
	"github.com/hasuite/hasuite/pkg/daemon"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/engine"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
)

func groupMessage(g engine.GroupStatus) *vrrpv1.Group {
	c := g.Config
	msg := &vrrpv1.Group{
		Interface:            c.Interface,
		Group:                uint32(c.VRID),
		State:                stateMessage(g.State),
		StateReason:          g.LastReason,
		LastTransition:       timestamp(g.LastTransition),
		Rfc3768Compatibility: c.RFC3768,
		VmacInterface:        c.VRRPInterface.Name,
		Priority:             uint32(c.Priority),
		AdvertiseInterval:    duration(c.Interval),
		AuthType:             authMessage(c.Auth.Type),
		Preempt:              c.Preempt,
		PreemptDelay:         duration(c.PreemptDelay),
		SyncGroup:            c.SyncGroup,
		Version:              uint32(c.Version),
		LastTakeover:         takeoverMessage(g.LastTakeover),
	}
	if c.HelloSource.IsValid() {
		msg.SourceAddress = c.HelloSource.String()
	}
	if g.MasterIP.IsValid() {
		msg.Master = &vrrpv1.Master{Address: g.MasterIP.String(), Priority: uint32(g.MasterPriority)}
	}
	for _, vip := range c.VIPs {
		msg.VirtualAddresses = append(msg.VirtualAddresses, vip.String())
	}
	return msg
}

// takeoverMessage lays the engine's takeover timestamps out as phases.
func takeoverMessage(t engine.Takeover) *vrrpv1.Takeover {
	if t.Claimed.IsZero() {
		return nil
	}
	msg := &vrrpv1.Takeover{Started: timestamppb.New(t.Claimed)}
	last := t.Claimed
	if !t.GatesDone.IsZero() {
		msg.Phases = append(msg.Phases, &vrrpv1.TakeoverPhaseTime{
			Phase: vrrpv1.TakeoverPhase_TAKEOVER_PHASE_PREPARE_DATA_PLANE, Duration: duration(t.GatesDone.Sub(last)),
		})
		last = t.GatesDone
		if len(t.Gates.Holders) > 0 {
			msg.Gates = gateReport(t.Gates)
		}
	}
	if !t.VIPsAdded.IsZero() {
		msg.Phases = append(msg.Phases, &vrrpv1.TakeoverPhaseTime{
			Phase: vrrpv1.TakeoverPhase_TAKEOVER_PHASE_ADD_ADDRESSES, Duration: duration(t.VIPsAdded.Sub(last)),
		})
		last = t.VIPsAdded
	}
	msg.Total = duration(last.Sub(t.Claimed))
	return msg
}

func statisticsMessage(g engine.GroupStatus) *vrrpv1.GroupStatistics {
	c := g.Counters
	return &vrrpv1.GroupStatistics{
		Interface:            g.Config.Interface,
		Group:                uint32(g.Config.VRID),
		AdvertsReceived:      c.AdvertsReceived,
		AdvertsSent:          c.AdvertsSent,
		BecameMaster:         c.BecameMaster,
		ReleasedMaster:       c.ReleasedMaster,
		LengthErrors:         c.PacketLengthErrors,
		TtlErrors:            c.TTLErrors,
		InvalidTypeErrors:    c.InvalidTypeErrors,
		AdvertIntervalErrors: c.IntervalErrors,
		AddressListErrors:    c.AddressListErrors,
		AuthInvalidType:      c.AuthInvalidType,
		AuthTypeMismatch:     c.AuthTypeMismatch,
		AuthFailures:         c.AuthFailures,
		PriorityZeroReceived: c.Priority0Received,
		PriorityZeroSent:     c.Priority0Sent,
		AdvertSendErrors:     c.SendErrors,
	}
}

func stateMessage(s fsm.State) vrrpv1.State {
	switch s {
	case fsm.Init:
		return vrrpv1.State_STATE_INIT
	case fsm.Backup:
		return vrrpv1.State_STATE_BACKUP
	case fsm.Master:
		return vrrpv1.State_STATE_MASTER
	case fsm.Fault:
		return vrrpv1.State_STATE_FAULT
	case fsm.Disabled:
		return vrrpv1.State_STATE_DISABLED
	}
	return vrrpv1.State_STATE_UNSPECIFIED
}

func authMessage(a config.AuthType) vrrpv1.AuthType {
	switch a {
	case config.AuthPlaintext:
		return vrrpv1.AuthType_AUTH_TYPE_PLAINTEXT_PASSWORD
	case config.AuthAH:
		return vrrpv1.AuthType_AUTH_TYPE_AH
	}
	return vrrpv1.AuthType_AUTH_TYPE_NONE
}

// diagnostics converts a configuration error (errors, each with its
// place when it is an hc.Diagnostic) and warnings into API diagnostics.
func diagnostics(err error, warnings hc.Diagnostics) []*vrrpv1.Diagnostic {
	var out []*vrrpv1.Diagnostic
	add := func(sev vrrpv1.Severity, d *hc.Diagnostic) {
		out = append(out, &vrrpv1.Diagnostic{
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
				add(vrrpv1.Severity_SEVERITY_ERROR, d)
			}
		case errors.As(err, &one):
			add(vrrpv1.Severity_SEVERITY_ERROR, one)
		default:
			out = append(out, &vrrpv1.Diagnostic{Severity: vrrpv1.Severity_SEVERITY_ERROR, Message: err.Error()})
		}
	}
	for _, d := range warnings {
		add(vrrpv1.Severity_SEVERITY_WARNING, d)
	}
	return out
}

func groupRef(k config.GroupKey) *vrrpv1.GroupRef {
	return &vrrpv1.GroupRef{Interface: k.Interface, Group: uint32(k.VRID)}
}

func compareRefs(a, b *vrrpv1.GroupRef) int {
	return cmp.Or(strings.Compare(a.Interface, b.Interface), cmp.Compare(a.Group, b.Group))
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func duration(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// gateReport is the API form of the takeover's gate round.
func gateReport(r bus.GateResult) *busv1.PrepareReport {
	report := &busv1.PrepareReport{
		PrepareId: r.PrepareID, TargetState: r.Target, Started: timestamp(r.Started), Duration: duration(r.Duration),
	}
	for _, h := range r.Holders {
		report.Holders = append(report.Holders, &busv1.HolderOutcome{
			Holder: h.Holder, Outcome: h.Outcome, Reason: h.Reason, Duration: duration(h.Duration),
		})
	}
	return report
}

// fillInterface copies the kernel's view of the interface of group c into
// msg. On a legacy-mode group's parent only the group's VIPs count as its
// addresses: the others are the router's own.
func fillInterface(msg *vrrpv1.VrrpInterface, ifc kernel.Interface, c config.Group) {
	msg.AdminUp, msg.LinkUp, msg.Mtu = ifc.AdminUp, ifc.Running, uint32(ifc.MTU)
	if msg.Mac == "" && len(ifc.MAC) > 0 {
		msg.Mac = ifc.MAC.String()
	}
	st := ifc.Stats
	msg.Counters = &vrrpv1.InterfaceCounters{
		RxPackets: st.RxPackets, RxBytes: st.RxBytes, RxErrors: st.RxErrors, RxDropped: st.RxDropped,
		TxPackets: st.TxPackets, TxBytes: st.TxBytes, TxErrors: st.TxErrors, TxDropped: st.TxDropped,
	}
	for _, p := range ifc.Addresses {
		if c.RFC3768 || slices.ContainsFunc(c.VIPs, func(v netip.Prefix) bool { return v.Addr() == p.Addr() }) {
			msg.Addresses = append(msg.Addresses, p.String())
		}
	}
}

// logRecord is the API form of a log ring entry.
func logRecord(e daemon.LogEntry) *vrrpv1.LogRecord {
	msg := &vrrpv1.LogRecord{Time: timestamp(e.Time), Level: e.Level.String(), Message: e.Message}
	for _, a := range e.Attrs {
		msg.Attrs = append(msg.Attrs, &vrrpv1.LogAttr{Key: a.Key, Value: a.Value})
	}
	return msg
}

func stateChange(c engine.StateChange) *vrrpv1.StateChange {
	return &vrrpv1.StateChange{
		Time: timestamp(c.Time), Group: groupRef(c.Group), From: stateMessage(c.From), To: stateMessage(c.To), Reason: c.Reason,
	}
}
