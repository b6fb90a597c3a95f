package show

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// Diagnostics renders configuration errors and warnings one per line, as
// "file:line:col: path: message", warnings marked, so editors can jump to
// them.
func Diagnostics(diags []*ctsyncv1.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		if place := diagnosticPlace(d); place != "" {
			b.WriteString(place + ": ")
		}
		if d.GetSeverity() == ctsyncv1.Severity_SEVERITY_WARNING {
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
func diagnosticPlace(d *ctsyncv1.Diagnostic) string {
	place := d.GetFile()
	if d.GetLine() > 0 {
		if place != "" {
			place += ":"
		}
		place += strconv.FormatUint(uint64(d.GetLine()), 10) + ":" + strconv.FormatUint(uint64(d.GetColumn()), 10)
	}
	return place
}

// Reload renders the answer to `ctsyncd reload`: the diagnostics, then
// the changes applied, or why nothing was.
func Reload(r *ctsyncv1.ReloadResponse) string {
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

// Validate renders the answer to `ctsyncd validate FILE`.
func Validate(r *ctsyncv1.ValidateResponse) string {
	out := Diagnostics(r.GetDiagnostics())
	for _, d := range r.GetDiagnostics() {
		if d.GetSeverity() != ctsyncv1.Severity_SEVERITY_WARNING {
			return out
		}
	}
	return out + "Configuration valid.\n"
}

// ResetCache renders the answer to `reset conntrack-sync
// internal-cache|external-cache` (CS-B18, CS-B19).
func ResetCache(cache ctsyncv1.Cache, r *ctsyncv1.ResetCacheResponse) string {
	flushed := fmt.Sprintf("%s and %s flushed", plural(r.GetFlushedEntries(), "entry", "entries"),
		plural(r.GetFlushedExpects(), "expectation", "expectations"))
	if cache == ctsyncv1.Cache_CACHE_EXTERNAL {
		return "External cache: " + flushed + "; the peer was asked to resend its connections.\n"
	}
	return "Internal cache: " + flushed + "; rebuilding it from the kernel table and resending it to the peer.\n"
}

// Restart renders the answer to `restart conntrack-sync` (CS-B17).
func Restart(*ctsyncv1.RestartResponse) string {
	return "Conntrack-sync restarted: internal cache reloaded from the kernel, resync requested from the peer, counters reset.\n"
}

// Log renders `show log conntrack-sync`: one record per line, oldest
// first.
func Log(records []*ctsyncv1.LogRecord) string {
	var b strings.Builder
	for _, r := range records {
		writeLogRecord(&b, r)
	}
	return b.String()
}

func writeLogRecord(b *strings.Builder, r *ctsyncv1.LogRecord) {
	fmt.Fprintf(b, "%s %-5s %s", r.GetTime().AsTime().UTC().Format(logTimeLayout), r.GetLevel(), r.GetMessage())
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

// MonitorEvent renders one event of `ctsyncd monitor` as one line.
func MonitorEvent(e *ctsyncv1.MonitorEvent) string {
	var b strings.Builder
	switch ev := e.GetEvent().(type) {
	case *ctsyncv1.MonitorEvent_StateChange:
		c := ev.StateChange
		fmt.Fprintf(&b, "%s state: %s -> %s", stamp(c.GetTime()), stateWord(c.GetFrom()), stateWord(c.GetTo()))
		reason(&b, c.GetReason())
	case *ctsyncv1.MonitorEvent_Commit:
		c := ev.Commit
		fmt.Fprintf(&b, "%s commit: %s, %d failed", stamp(c.GetTime()), plural(c.GetEntries(), "entry", "entries"), c.GetFailed())
		if c.GetExpects() > 0 || c.GetExpectsFailed() > 0 {
			fmt.Fprintf(&b, ", %s, %d failed", plural(c.GetExpects(), "expectation", "expectations"), c.GetExpectsFailed())
		}
		b.WriteString(", in " + short(c.GetDuration()) + "\n")
	case *ctsyncv1.MonitorEvent_Resync:
		r := ev.Resync
		verb := "answered"
		if r.GetRequested() {
			verb = "requested"
		}
		fmt.Fprintf(&b, "%s resync %s: %s", stamp(r.GetTime()), verb, plural(r.GetEntries(), "entry", "entries"))
		reason(&b, r.GetReason())
	case *ctsyncv1.MonitorEvent_PeerChange:
		p := ev.PeerChange
		alive := "silent"
		if p.GetAlive() {
			alive = "alive"
		}
		fmt.Fprintf(&b, "%s peer %s: %s", stamp(p.GetTime()), p.GetAddress(), alive)
		if p.GetBootId() != "" {
			b.WriteString(", boot " + p.GetBootId())
		}
		reason(&b, p.GetReason())
	case *ctsyncv1.MonitorEvent_Log:
		writeLogRecord(&b, ev.Log)
	}
	return b.String()
}

// stamp is an event's time as log lines print it.
func stamp(t *timestamppb.Timestamp) string { return t.AsTime().UTC().Format(logTimeLayout) }

// reason ends an event line, with ": reason" when there is one.
func reason(b *strings.Builder, r string) {
	if r != "" {
		b.WriteString(": " + r)
	}
	b.WriteByte('\n')
}
