package show

import (
	"fmt"
	"strconv"
	"strings"

	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// Diagnostics renders configuration errors and warnings one per line, as
// "file:line:col: path: message", warnings marked, so editors can jump to
// them.
func Diagnostics(diags []*clusterv1.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		if place := diagnosticPlace(d); place != "" {
			b.WriteString(place + ": ")
		}
		if d.GetSeverity() == clusterv1.Severity_SEVERITY_WARNING {
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
func diagnosticPlace(d *clusterv1.Diagnostic) string {
	place := d.GetFile()
	if d.GetLine() > 0 {
		if place != "" {
			place += ":"
		}
		place += strconv.FormatUint(uint64(d.GetLine()), 10) + ":" + strconv.FormatUint(uint64(d.GetColumn()), 10)
	}
	return place
}

// Reload renders the answer to `clusterd reload`: the diagnostics, then
// the changes applied, or why nothing was.
func Reload(r *clusterv1.ReloadResponse) string {
	var b strings.Builder
	b.WriteString(Diagnostics(r.GetDiagnostics()))
	switch {
	case !r.GetApplied():
		b.WriteString("Configuration not applied: fix the errors above.\n")
	case len(r.GetChanges()) == 0:
		b.WriteString("Configuration unchanged.\n")
	default:
		for _, c := range r.GetChanges() {
			b.WriteString(c + "\n")
		}
	}
	return b.String()
}

// Standby renders the answer to `clusterd standby`.
func Standby(r *clusterv1.StandbyResponse) string {
	f := r.GetFailover()
	return fmt.Sprintf("Releasing the resources of %s to %s.\n", f.GetFromNode(), f.GetToNode())
}

// Takeover renders the answer to `clusterd takeover`.
func Takeover(r *clusterv1.TakeoverResponse) string {
	f := r.GetFailover()
	if f.GetFromNode() == "" {
		return fmt.Sprintf("Taking the resources on %s.\n", f.GetToNode())
	}
	return fmt.Sprintf("Taking the resources from %s on %s.\n", f.GetFromNode(), f.GetToNode())
}

// Log renders `show log cluster`: one record per line, oldest first.
func Log(records []*clusterv1.LogRecord) string {
	var b strings.Builder
	for _, r := range records {
		writeLogRecord(&b, r)
	}
	return b.String()
}

func writeLogRecord(b *strings.Builder, r *clusterv1.LogRecord) {
	fmt.Fprintf(b, "%s %-5s %s", r.GetTime().AsTime().UTC().Format(timeLayout), r.GetLevel(), r.GetMessage())
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

// MonitorEvent renders one event of `clusterd monitor` as one line.
func MonitorEvent(e *clusterv1.MonitorEvent) string {
	var b strings.Builder
	switch ev := e.GetEvent().(type) {
	case *clusterv1.MonitorEvent_NodeChange:
		c := ev.NodeChange
		fmt.Fprintf(&b, "%s %s %s: %s -> %s", c.GetTime().AsTime().UTC().Format(timeLayout), orNone(roleWord(c.GetRole())),
			c.GetNode(), stateName(c.GetFrom()), stateName(c.GetTo()))
		if c.GetReason() != "" {
			b.WriteString(": " + c.GetReason())
		}
		b.WriteByte('\n')
	case *clusterv1.MonitorEvent_ResourceChange:
		c := ev.ResourceChange
		fmt.Fprintf(&b, "%s resources: %s -> %s", c.GetTime().AsTime().UTC().Format(timeLayout),
			resourceName(c.GetFrom()), resourceName(c.GetTo()))
		if c.GetHolder() != "" {
			b.WriteString(" on " + c.GetHolder())
		}
		if c.GetReason() != "" {
			b.WriteString(": " + c.GetReason())
		}
		b.WriteByte('\n')
	case *clusterv1.MonitorEvent_Log:
		writeLogRecord(&b, ev.Log)
	}
	return b.String()
}

// stateName is a node state in one word, for event lines.
func stateName(s clusterv1.NodeState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "NODE_STATE_"))
}

func resourceName(s clusterv1.ResourceState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RESOURCE_STATE_"))
}
