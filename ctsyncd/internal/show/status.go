package show

import (
	"fmt"
	"strings"
	"time"

	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// Status renders `show conntrack-sync status` (CS-O01): the guide's four
// lines exactly as Examples 4-17 and 4-18 print them, odd alignment kept
// (two labels padded to 20 columns, the third not), after the blank line
// the examples show; then, after another blank line, a block of ours:
// the producer problem if any, the sync address, the peer, the last
// commit, resyncs, replication lag and the digest check. The extra block
// is always printed (no --detail flag): a script that wants the guide's
// lines takes the first block. Times are printed in now's location (the
// host's zone, CS-Q11), ages relative to now.
func Status(s *ctsyncv1.Status, now time.Time) string {
	if !s.GetEnabled() {
		return NotConfigured
	}
	loc := now.Location()
	var b strings.Builder
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-20s: %s\n", "sync-interface", s.GetSyncInterface())
	fmt.Fprintf(&b, "%-20s: %s\n", "failover-mechanism", mechanism(s.GetFailoverMechanism()))
	transition := "none"
	if t := s.GetLastTransition(); t != nil && s.GetState() != ctsyncv1.SyncState_SYNC_STATE_UNSPECIFIED {
		transition = stateWord(s.GetState()) + " at " + guideTime(t, loc)
	}
	fmt.Fprintf(&b, "last state transition : %s\n", transition)
	fmt.Fprintf(&b, "ExpectationSync: %s\n", expectSync(s.GetExpectSync()))

	b.WriteString("\n")
	extra := func(label, value string) { fmt.Fprintf(&b, "%-20s: %s\n", label, value) }
	if p := s.GetProducerProblem(); p != "" {
		extra("problem", p)
	}
	extra("sync-address", syncAddress(s))
	extra("peer", peer(s.GetPeer(), now))
	extra("last commit", commit(s.GetLastCommit(), loc))
	resyncs := fmt.Sprintf("%d requested, %d answered", s.GetResyncsRequested(), s.GetResyncsAnswered())
	if !s.GetSyncedOnce() {
		resyncs += ", first full resync pending"
	}
	extra("resyncs", resyncs)
	lag := s.GetLag()
	unacked := "none unacknowledged"
	if d := lag.GetOldestUnackedAge(); d != nil {
		unacked = "oldest unacknowledged " + compact(d.AsDuration())
	}
	extra("replication lag", fmt.Sprintf("%s at risk, %s", plural(lag.GetEntriesAtRisk(), "entry", "entries"), unacked))
	extra("digest", digest(s.GetDigest(), loc))
	extra("entries", fmt.Sprintf("%d internal, %d external", s.GetInternalEntries(), s.GetExternalEntries()))
	return b.String()
}

// mechanism is `cluster [group NAME]` as printed, and by analogy `vrrp
// [sync-group NAME]` (CS-O01).
func mechanism(m *ctsyncv1.FailoverMechanism) string {
	switch m.GetKind() {
	case ctsyncv1.MechanismKind_MECHANISM_KIND_CLUSTER:
		return "cluster [group " + m.GetGroup() + "]"
	case ctsyncv1.MechanismKind_MECHANISM_KIND_VRRP:
		return "vrrp [sync-group " + m.GetGroup() + "]"
	}
	return "none"
}

// stateWord is PRIMARY, BACKUP or FAULT.
func stateWord(s ctsyncv1.SyncState) string {
	switch s {
	case ctsyncv1.SyncState_SYNC_STATE_PRIMARY:
		return "PRIMARY"
	case ctsyncv1.SyncState_SYNC_STATE_BACKUP:
		return "BACKUP"
	case ctsyncv1.SyncState_SYNC_STATE_FAULT:
		return "FAULT"
	}
	return "none"
}

// expectNames are the helpers in the order the guide lists them (Example
// 4-18), which is the enum's order.
var expectNames = map[ctsyncv1.ExpectProtocol]string{
	ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_FTP:    "FTP",
	ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_SIP:    "SIP",
	ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_H323:   "H.323",
	ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_NFS:    "NFS",
	ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_SQLNET: "SQL*net",
}

// expectSync is `Disabled` or `enabled for FTP, SIP, ...` in the guide's
// order whatever the order of the message, each once.
func expectSync(protos []ctsyncv1.ExpectProtocol) string {
	var seen [ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_SQLNET + 1]bool
	for _, p := range protos {
		if p > 0 && int(p) < len(seen) {
			seen[p] = true
		}
	}
	var names []string
	for p := range seen {
		if seen[p] {
			names = append(names, expectNames[ctsyncv1.ExpectProtocol(p)])
		}
	}
	if len(names) == 0 {
		return "Disabled"
	}
	return "enabled for " + strings.Join(names, ", ")
}

func syncAddress(s *ctsyncv1.Status) string {
	out := s.GetSyncAddress()
	if out == "" {
		out = "unknown"
	}
	if s.GetMulticast() {
		out += " multicast"
	} else {
		out += " unicast"
	}
	if s.GetAuthenticated() {
		return out + ", authenticated"
	}
	return out + ", not authenticated"
}

func peer(p *ctsyncv1.Peer, now time.Time) string {
	if p.GetLastHeard() == nil {
		return "not heard yet"
	}
	alive := "silent"
	if p.GetAlive() {
		alive = "alive"
	}
	out := fmt.Sprintf("%s (%s), %s, last heard %s", p.GetAddress(), stateWord(p.GetState()), alive, age(now, p.GetLastHeard()))
	if p.GetBootId() != "" {
		out += ", boot " + p.GetBootId()
	}
	return out
}

func commit(c *ctsyncv1.Commit, loc *time.Location) string {
	if c == nil {
		return "none"
	}
	out := fmt.Sprintf("%s, %d failed", plural(c.GetEntries(), "entry", "entries"), c.GetFailed())
	if c.GetExpects() > 0 || c.GetExpectsFailed() > 0 {
		out += fmt.Sprintf(", %s, %d failed", plural(c.GetExpects(), "expectation", "expectations"), c.GetExpectsFailed())
	}
	return out + ", in " + short(c.GetDuration()) + " at " + guideTime(c.GetTime(), loc)
}

func digest(d *ctsyncv1.DigestStatus, loc *time.Location) string {
	if d.GetLastCheck() == nil {
		return "not checked yet"
	}
	result := "match"
	if d.GetLastResult() == ctsyncv1.DigestResult_DIGEST_RESULT_MISMATCH {
		result = "mismatch in " + plural(uint64(d.GetLastMismatchedBuckets()), "bucket", "buckets") + " (resent)"
	}
	return fmt.Sprintf("%s at %s, %s since start", result, guideTime(d.GetLastCheck(), loc),
		plural(d.GetMismatches(), "mismatch", "mismatches"))
}
