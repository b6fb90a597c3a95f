package show

import (
	"fmt"
	"strconv"
	"strings"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// ResetMaster renders the answer to `reset vrrp master interface <if> group
// <g>` (VR-O05, Example 2-9: "Forcing eth1.4001-200 to BACKUP..."), one line
// per group released (the sync group follows), then a warning when
// preemption will take MASTER back.
func ResetMaster(resp *vrrpv1.ResetMasterResponse) string {
	var b strings.Builder
	for _, g := range resp.GetReleased() {
		fmt.Fprintf(&b, "Forcing %s to BACKUP...\n", groupName(g.GetInterface(), g.GetGroup()))
	}
	if resp.GetPreemptWillRetake() {
		fmt.Fprintf(&b, "Warning: preempt is enabled and this router has the highest priority: "+
			"it will become MASTER again after the preempt delay (%s).\n",
			compactSeconds(resp.GetPreemptDelay().AsDuration()))
	}
	return b.String()
}

// NotMaster is the message of `reset vrrp master` for a group that is not
// MASTER (VR-O05); the command then exits with status 1.
func NotMaster(g *vrrpv1.GroupRef) string {
	return groupName(g.GetInterface(), g.GetGroup()) + " is not in MASTER state\n"
}

// Diagnostics renders configuration errors and warnings one per line, as
// "file:line:col: path: message", warnings marked, so editors can jump to
// them.
func Diagnostics(diags []*vrrpv1.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		if place := diagnosticPlace(d); place != "" {
			b.WriteString(place + ": ")
		}
		if d.GetSeverity() == vrrpv1.Severity_SEVERITY_WARNING {
			b.WriteString("warning: ")
		}
		if d.GetPath() != "" {
			b.WriteString(d.GetPath() + ": ")
		}
		b.WriteString(d.GetMessage())
		b.WriteByte('\n')
	}
	return b.String()
}

// diagnosticPlace is "file:line:col", leaving out what is unknown.
func diagnosticPlace(d *vrrpv1.Diagnostic) string {
	place := d.GetFile()
	if d.GetLine() > 0 {
		if place != "" {
			place += ":"
		}
		place += strconv.FormatUint(uint64(d.GetLine()), 10) + ":" + strconv.FormatUint(uint64(d.GetColumn()), 10)
	}
	return place
}

// logTimeLayout is the timestamp of log and monitor lines: UTC, to the
// millisecond, sortable.
const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Log renders `show log vrrp` (VR-O08): one record per line, oldest first.
func Log(records []*vrrpv1.LogRecord) string {
	var b strings.Builder
	for _, r := range records {
		writeLogRecord(&b, r)
	}
	return b.String()
}

func writeLogRecord(b *strings.Builder, r *vrrpv1.LogRecord) {
	fmt.Fprintf(b, "%s %-5s %s", r.GetTime().AsTime().Format(logTimeLayout), r.GetLevel(), r.GetMessage())
	for _, a := range r.GetAttrs() {
		fmt.Fprintf(b, " %s=%s", a.GetKey(), quoteIfNeeded(a.GetValue()))
	}
	b.WriteByte('\n')
}

// quoteIfNeeded quotes values that would not read as one word, as slog's
// text handler does.
func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n\"=") {
		return strconv.Quote(v)
	}
	return v
}

// MonitorEvent renders one event of `monitor vrrp` (VR-O09) as one line.
func MonitorEvent(e *vrrpv1.MonitorEvent) string {
	var b strings.Builder
	switch ev := e.GetEvent().(type) {
	case *vrrpv1.MonitorEvent_StateChange:
		c := ev.StateChange
		fmt.Fprintf(&b, "%s %s %s -> %s", c.GetTime().AsTime().Format(logTimeLayout),
			groupName(c.GetGroup().GetInterface(), c.GetGroup().GetGroup()),
			stateName(c.GetFrom()), stateName(c.GetTo()))
		if c.GetReason() != "" {
			b.WriteString(": " + c.GetReason())
		}
		b.WriteByte('\n')
	case *vrrpv1.MonitorEvent_Log:
		writeLogRecord(&b, ev.Log)
	}
	return b.String()
}
