package show

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// ownerPriority is the priority of the address owner (VR-B35).
const ownerPriority = 255

// Summary renders `show vrrp` (VR-O01, Example 2-13): one row per group, in
// the order given (the daemon sorts by interface, then group). With no
// groups only the header is printed, so scripts see the same shape.
func Summary(groups []*vrrpv1.Group, now time.Time) string {
	t := table{gap: 2}
	t.add("Interface", "Group", "State", "RFC Compliant", "Addr Owner", "Last Transition", "Sync Group")
	for _, g := range groups {
		t.add(g.GetInterface(), strconv.FormatUint(uint64(g.GetGroup()), 10), stateName(g.GetState()),
			yesNo(g.GetRfc3768Compatibility()), yesNo(g.GetPriority() == ownerPriority),
			Elapsed(g.GetLastTransition(), now), g.GetSyncGroup())
	}
	return t.String()
}

// The VR-O02 layout: group lines indented 2, "label:" left-justified in 39
// columns, so values start at column 42.
const (
	detailIndent = "  "
	labelWidth   = 39
)

// Detail renders `show vrrp detail` and `show vrrp interface <if> [group
// <g>]` (VR-O02, Examples 2-14 and 2-15): one block per interface, its
// groups in the order given.
func Detail(groups []*vrrpv1.Group, now time.Time) string {
	if len(groups) == 0 {
		return "No VRRP groups.\n"
	}
	var b strings.Builder
	for i, g := range groups {
		if i == 0 || groups[i-1].GetInterface() != g.GetInterface() {
			fmt.Fprintf(&b, "%s\nInterface: %s\n%s\n", separator, g.GetInterface(), separator)
		}
		writeGroupDetail(&b, g, now)
	}
	return b.String()
}

// detailWriter writes the "label: value" lines of one group.
type detailWriter struct{ b *strings.Builder }

func (w detailWriter) field(label, value string) {
	fmt.Fprintf(w.b, "%s%-*s%s\n", detailIndent, labelWidth, label+":", value)
}

func (w detailWriter) line(text string) { fmt.Fprintf(w.b, "%s%s\n", detailIndent, text) }

func (w detailWriter) blank() { w.b.WriteByte('\n') }

func writeGroupDetail(b *strings.Builder, g *vrrpv1.Group, now time.Time) {
	w := detailWriter{b}
	w.line("Group: " + strconv.FormatUint(uint64(g.GetGroup()), 10))
	w.line(separator)
	w.field("State", stateName(g.GetState()))
	w.field("Last transition", Elapsed(g.GetLastTransition(), now))
	// A FAULT is only actionable with its cause (e.g. a missing source
	// address); other states' reasons are in the log.
	if g.GetState() == vrrpv1.State_STATE_FAULT && g.GetStateReason() != "" {
		w.field("Fault reason", g.GetStateReason())
	}
	w.blank()

	masterRouter, masterPriority := "unknown", "unknown"
	if m := g.GetMaster(); m != nil {
		masterRouter, masterPriority = m.GetAddress(), strconv.FormatUint(uint64(m.GetPriority()), 10)
	}
	w.field("Master router", masterRouter)
	w.field("Master priority", masterPriority)
	w.blank()

	if g.GetRfc3768Compatibility() {
		w.line("RFC 3768 Compliant")
		w.field("Virtual MAC interface", orNA(g.GetVmacInterface()))
	}
	w.field("Address Owner", yesNo(g.GetPriority() == ownerPriority))
	w.blank()

	w.field("Source Address", orNA(g.GetSourceAddress()))
	w.field("Priority", strconv.FormatUint(uint64(g.GetPriority()), 10))
	w.field("Advertisement interval", seconds(g.GetAdvertiseInterval()))
	w.field("Authentication type", authName(g.GetAuthType()))
	w.field("Preempt", enabledDisabled(g.GetPreempt()))
	if g.GetPreemptDelay().AsDuration() > 0 {
		w.field("Preempt delay", seconds(g.GetPreemptDelay()))
	}
	w.blank()

	if g.GetSyncGroup() != "" {
		w.field("Sync-group", g.GetSyncGroup())
		w.blank()
	}

	w.field("VIP count", strconv.Itoa(len(g.GetVirtualAddresses())))
	for _, vip := range g.GetVirtualAddresses() {
		w.line("  " + vip)
	}
	w.blank()

	if t := g.GetLastTakeover(); t != nil {
		writeTakeover(w, t, now)
	}
}

// writeTakeover shows how long the last transition into MASTER took, phase
// by phase, with how each takeover gate answered under the phase that
// waited for them (ARCHITECTURE: takeover gates). Not in the guide: it
// follows the guide's sections.
func writeTakeover(w detailWriter, t *vrrpv1.Takeover, now time.Time) {
	w.field("Last takeover", Elapsed(t.GetStarted(), now)+" ago, took "+precise(t.GetTotal()))
	for _, p := range t.GetPhases() {
		value := precise(p.GetDuration())
		if p.GetError() != "" {
			value += " (failed: " + p.GetError() + ")"
		}
		w.field("  "+phaseName(p.GetPhase()), value)
		if p.GetPhase() == vrrpv1.TakeoverPhase_TAKEOVER_PHASE_PREPARE_DATA_PLANE {
			writeGates(w, t.GetGates())
		}
	}
	w.blank()
}

// writeGates shows one line per gate holder: "ready after 900ms".
func writeGates(w detailWriter, gates *busv1.PrepareReport) {
	for _, h := range gates.GetHolders() {
		outcome := strings.TrimPrefix(h.GetOutcome().String(), "GATE_OUTCOME_")
		value := strings.ReplaceAll(strings.ToLower(outcome), "_", " ") + " after " + precise(h.GetDuration())
		if h.GetReason() != "" {
			value += " (" + h.GetReason() + ")"
		}
		w.field("    Gate "+h.GetHolder(), value)
	}
}

func phaseName(p vrrpv1.TakeoverPhase) string {
	switch p {
	case vrrpv1.TakeoverPhase_TAKEOVER_PHASE_PREPARE_DATA_PLANE:
		return "Prepare data plane"
	case vrrpv1.TakeoverPhase_TAKEOVER_PHASE_ADD_ADDRESSES:
		return "Add addresses"
	case vrrpv1.TakeoverPhase_TAKEOVER_PHASE_SEND_GARP:
		return "Send gratuitous ARP"
	case vrrpv1.TakeoverPhase_TAKEOVER_PHASE_RUN_SCRIPT:
		return "Run transition script"
	}
	return "Unknown phase"
}
