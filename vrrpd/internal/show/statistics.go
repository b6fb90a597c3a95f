package show

import (
	"fmt"
	"strings"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// counterWidth is where counter values start in `show vrrp statistics`.
const counterWidth = 20

// Statistics renders `show vrrp statistics` (VR-O03, Example 2-16) as
// printed: one block per interface, its groups in the order given, a blank
// line between groups. The guide prints the Priority Zero lines without a
// colon; so do we.
func Statistics(stats []*vrrpv1.GroupStatistics) string {
	if len(stats) == 0 {
		return "No VRRP groups.\n"
	}
	var b strings.Builder
	counter := func(label string, n uint64) {
		fmt.Fprintf(&b, "%-*s %d\n", counterWidth-1, label, n)
	}
	for i, s := range stats {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i == 0 || stats[i-1].GetInterface() != s.GetInterface() {
			fmt.Fprintf(&b, "%s\nInterface: %s\n%s\n", separator, s.GetInterface(), separator)
		}
		fmt.Fprintf(&b, "Group: %d\n%s\n", s.GetGroup(), separator)

		b.WriteString("Advertisements:\n")
		counter("  Received:", s.GetAdvertsReceived())
		counter("  Sent:", s.GetAdvertsSent())
		b.WriteByte('\n')
		counter("Became master:", s.GetBecameMaster())
		counter("Released master:", s.GetReleasedMaster())
		b.WriteByte('\n')
		b.WriteString("Packet errors:\n")
		counter("  Length:", s.GetLengthErrors())
		counter("  TTL:", s.GetTtlErrors())
		counter("  Invalid type:", s.GetInvalidTypeErrors())
		counter("  Advertisement interval:", s.GetAdvertIntervalErrors())
		counter("  Address List:", s.GetAddressListErrors())
		b.WriteByte('\n')
		b.WriteString("Authentication Errors:\n")
		counter("  Invalid type:", s.GetAuthInvalidType())
		counter("  Type mismatch:", s.GetAuthTypeMismatch())
		counter("  Failure:", s.GetAuthFailures())
		b.WriteByte('\n')
		b.WriteString("Priority Zero Advertisements:\n")
		counter("  Received", s.GetPriorityZeroReceived())
		counter("  Sent", s.GetPriorityZeroSent())
	}
	return b.String()
}
