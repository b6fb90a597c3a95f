package show

import (
	"fmt"
	"strconv"
	"strings"

	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// ExpectSyncDisabled is what `show conntrack-sync statistics expect`
// prints when expect-sync is not configured (CS-O03: the expect part is
// printed only when it is).
const ExpectSyncDisabled = "Expectation sync is disabled: configure expect-sync in service conntrack-sync.\n"

// Statistics renders `show conntrack-sync statistics [main|expect]`
// (CS-O03, Example 4-16): per table the five sections of conntrackd -s
// (`Pckts` and all), the expect table only when expect-sync is configured,
// one table only for main or expect; then, after the guide's lines, a
// block per table of the counters conntrackd does not have.
//
// The guide's example lost its padding in extraction (the same shape of
// line is spaced differently in the main and expect parts), so the
// canonical layout is the one most of its lines show: counters at column
// 36, failures right-aligned after "failed:", the traffic lines indented
// by 6 with their second column at 37.
func Statistics(s *ctsyncv1.ShowStatisticsResponse, table ctsyncv1.Table) string {
	if !s.GetEnabled() {
		return NotConfigured
	}
	showMain := table != ctsyncv1.Table_TABLE_EXPECT
	showExpect := table != ctsyncv1.Table_TABLE_MAIN && s.GetExpectSync()
	if table == ctsyncv1.Table_TABLE_EXPECT && !showExpect {
		return ExpectSyncDisabled
	}
	var b strings.Builder
	if showMain {
		writeTable(&b, "Main", s.GetMain())
	}
	if showExpect {
		writeTable(&b, "Expect", s.GetExpect())
	}
	if showMain {
		writeReplication(&b, "Main", s.GetMain().GetReplication())
	}
	if showExpect {
		writeReplication(&b, "Expect", s.GetExpect().GetReplication())
	}
	return b.String()
}

func writeTable(b *strings.Builder, name string, t *ctsyncv1.TableStatistics) {
	fmt.Fprintf(b, "\n%s Table Statistics:\n\n", name)
	writeCache(b, "internal", t.GetInternal())
	writeCache(b, "external", t.GetExternal())
	b.WriteString("traffic processed:\n")
	pair(b, t.GetProcessedBytes(), "Bytes", t.GetProcessedPackets(), "Pckts")
	sync := t.GetSync()
	device := sync.GetDevice()
	if device == "" {
		device = "none"
	}
	fmt.Fprintf(b, "\nmulticast traffic (active device=%s):\n", device)
	pair(b, sync.GetBytesSent(), "Bytes sent", sync.GetBytesReceived(), "Bytes recv")
	pair(b, sync.GetPacketsSent(), "Pckts sent", sync.GetPacketsReceived(), "Pckts recv")
	pair(b, sync.GetSendErrors(), "Error send", sync.GetReceiveErrors(), "Error recv")
	b.WriteString("\nmessage tracking:\n")
	pair(b, sync.GetMalformed(), "Malformed msgs", sync.GetLost(), "Lost msgs")
}

func writeCache(b *strings.Builder, which string, c *ctsyncv1.CacheStatistics) {
	fmt.Fprintf(b, "cache %s:\n", which)
	fmt.Fprintf(b, "%-37s%d\n", "current active connections:", c.GetCurrent())
	op := func(label string, n, failed uint64) {
		f := strconv.FormatUint(failed, 10)
		fmt.Fprintf(b, "%-36s%-5d failed:%s%s\n", label, n, strings.Repeat(" ", max(11-len(f), 1)), f)
	}
	op("connections created:", c.GetCreated(), c.GetCreatedFailed())
	op("connections updated:", c.GetUpdated(), c.GetUpdatedFailed())
	op("connections destroyed:", c.GetDestroyed(), c.GetDestroyedFailed())
	b.WriteString("\n")
}

// pair writes a traffic line: two counters with their labels, the first
// indented by 6, the second at column 37.
func pair(b *strings.Builder, n1 uint64, l1 string, n2 uint64, l2 string) {
	first := strconv.FormatUint(n1, 10) + " " + l1
	fmt.Fprintf(b, "      %-30s %d %s\n", first, n2, l2)
}

func writeReplication(b *strings.Builder, name string, r *ctsyncv1.ReplicationStatistics) {
	fmt.Fprintf(b, "\n%s Table Replication:\n\n", name)
	pair(b, r.GetRetransmits(), "Retransmits", r.GetOverruns(), "Overruns")
	pair(b, r.GetNacksSent(), "Nacks sent", r.GetNacksReceived(), "Nacks recv")
	pair(b, r.GetResyncs(), "Resyncs", r.GetRepairs(), "Repairs")
	pair(b, r.GetDigestChecks(), "Digest checks", r.GetDigestMismatches(), "Digest mismatches")
}
