package show

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

func TestVR_O06_Restart(t *testing.T) {
	t.Run("Clean", func(t *testing.T) { checkGolden(t, Restart(&vrrpv1.RestartResponse{})) })
	t.Run("Warnings", func(t *testing.T) {
		checkGolden(t, Restart(&vrrpv1.RestartResponse{Diagnostics: []*vrrpv1.Diagnostic{{
			Severity: vrrpv1.Severity_SEVERITY_WARNING, File: "/etc/hasuite/vrrpd.conf", Line: 7, Column: 5,
			Path: "interfaces ethernet eth0 vrrp vrrp-group 99 advertisement-interval", Message: "deprecated spelling: use advertise-interval",
		}}}))
	})
}

func TestVR_O09_DebugLoggingAndMonitorStarted(t *testing.T) {
	checkGolden(t, DebugLogging(true)+DebugLogging(false)+MonitorStarted(false)+MonitorStarted(true))
}

// logAt is a record s seconds before now.
func logAt(s float64, level, msg string, attrs ...string) *vrrpv1.LogRecord {
	r := &vrrpv1.LogRecord{Time: timestamppb.New(now.Add(-time.Duration(s * float64(time.Second)))), Level: level, Message: msg}
	for i := 0; i+1 < len(attrs); i += 2 {
		r.Attrs = append(r.Attrs, &vrrpv1.LogAttr{Key: attrs[i], Value: attrs[i+1]})
	}
	return r
}

// A failover's story as `show log vrrp` tells it.
func TestVR_O08_ShowLog(t *testing.T) {
	records := []*vrrpv1.LogRecord{
		logAt(10, "INFO", "vrrpd started", "groups", "1", "socket", "/run/hasuite/vrrpd.sock"),
		logAt(9.5, "INFO", "VRRP transition", "group", "eth0/99", "from", "INIT", "to", "BACKUP", "reason", "started"),
		logAt(6.2, "INFO", "VRRP transition", "group", "eth0/99", "from", "BACKUP", "to", "MASTER", "reason", "master down timer expired"),
		logAt(6.2, "DEBUG", "VRRP event", "group", "eth0/99", "state", "MASTER", "event", "fsm.TimerFired{}"),
		logAt(1, "WARN", "dropped VRRP advert", "group", "eth0/99", "from", "172.16.0.9", "reason", "auth type mismatch"),
		logAt(0, "ERROR", "cannot add virtual address", "group", "eth0/99", "vip", "172.16.0.24/24", "err", `file exists "x"`),
	}
	t.Run("Records", func(t *testing.T) { checkGolden(t, Log(records)) })
	t.Run("Empty", func(t *testing.T) {
		if got := Log(nil); got != "" {
			t.Errorf("Log(nil) = %q", got)
		}
	})
}

// `monitor vrrp` prints state changes and log records interleaved, one a
// line.
func TestVR_O09_MonitorStream(t *testing.T) {
	change := func(s float64, from, to vrrpv1.State, reason string) *vrrpv1.MonitorEvent {
		return &vrrpv1.MonitorEvent{Event: &vrrpv1.MonitorEvent_StateChange{StateChange: &vrrpv1.StateChange{
			Time: timestamppb.New(now.Add(-time.Duration(s * float64(time.Second)))), Group: &vrrpv1.GroupRef{Interface: "eth0", Group: 99},
			From: from, To: to, Reason: reason,
		}}}
	}
	logEvent := func(r *vrrpv1.LogRecord) *vrrpv1.MonitorEvent {
		return &vrrpv1.MonitorEvent{Event: &vrrpv1.MonitorEvent_Log{Log: r}}
	}
	events := []*vrrpv1.MonitorEvent{
		logEvent(logAt(3, "INFO", "restarting VRRP: every group resigns and starts again from INIT")),
		change(3, vrrpv1.State_STATE_MASTER, vrrpv1.State_STATE_INIT, "shutdown"),
		change(3, vrrpv1.State_STATE_INIT, vrrpv1.State_STATE_BACKUP, ""),
		logEvent(logAt(2, "DEBUG", "VRRP event", "group", "eth0/99", "event", "fsm.Advert{Priority:20 Source:172.16.0.3 Interval:1s}")),
		change(0, vrrpv1.State_STATE_BACKUP, vrrpv1.State_STATE_MASTER, "preempting a lower priority master"),
		logEvent(logAt(0, "WARN", "monitor: events dropped, this client reads too slowly", "dropped", "12")),
	}
	var b strings.Builder
	for _, e := range events {
		b.WriteString(MonitorEvent(e))
	}
	checkGolden(t, b.String())
}
