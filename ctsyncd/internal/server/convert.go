package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	hc "github.com/hasuite/hasuite/pkg/config"
	"github.com/hasuite/hasuite/pkg/daemon"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// statusMessage is the API form of the engine's status: what `show
// conntrack-sync status` prints and its --json.
func statusMessage(st engine.Status) *ctsyncv1.Status {
	if !enabled(st) {
		return &ctsyncv1.Status{} // CS-C01
	}
	cfg := st.Config
	ses := st.Session
	msg := &ctsyncv1.Status{
		Enabled:           true,
		SyncInterface:     cfg.Interface,
		FailoverMechanism: mechanismMessage(cfg.Mechanism),
		State:             stateMessage(st.Mode),
		ExpectSync:        expectMessages(cfg.Expect),
		SyncAddress:       st.Channel.Destination,
		Multicast:         cfg.Multicast(),
		Authenticated:     cfg.Secret != "",
		ProducerProblem:   problems(st),
		Peer:              peerMessage(st),
		LastCommit:        commitMessage(st.LastCommit),
		ResyncsRequested:  ses.ResyncSent,
		ResyncsAnswered:   ses.ResyncAnswered,
		Lag:               &ctsyncv1.ReplicationLag{EntriesAtRisk: uint64(max(ses.EntriesAtRisk, 0))},
		Digest:            digestMessage(st),
		InternalEntries:   uint64(st.Main.InternalLen),
		ExternalEntries:   uint64(st.Main.ExternalLen),
		SyncedOnce:        !st.Demoted,
	}
	if msg.SyncAddress == "" {
		msg.SyncAddress = cfg.Destination().String()
	}
	if st.Mode != engine.ModeNone {
		msg.LastTransition = timestamp(st.Since)
	}
	if ses.EntriesAtRisk > 0 && ses.OldestUnacked > 0 {
		msg.Lag.OldestUnackedAge = durationpb.New(ses.OldestUnacked)
	}
	return msg
}

// problems is what keeps sync from working, the producer's first: the
// status has one line for it.
func problems(st engine.Status) string {
	var out []string
	if p := st.Producer.Problem; p != "" {
		out = append(out, p)
	}
	if p := st.Channel.Problem; p != "" {
		out = append(out, "sync channel: "+p)
	}
	if st.Demoted && st.DemotionWhy != "" {
		out = append(out, "demotion held: "+st.DemotionWhy)
	}
	return strings.Join(out, "; ")
}

func mechanismMessage(m config.Mechanism) *ctsyncv1.FailoverMechanism {
	msg := &ctsyncv1.FailoverMechanism{Group: m.Group}
	switch m.Kind {
	case config.MechanismCluster:
		msg.Kind = ctsyncv1.MechanismKind_MECHANISM_KIND_CLUSTER
	case config.MechanismVRRP:
		msg.Kind = ctsyncv1.MechanismKind_MECHANISM_KIND_VRRP
	}
	return msg
}

func stateMessage(m engine.Mode) ctsyncv1.SyncState {
	switch m {
	case engine.ModePrimary:
		return ctsyncv1.SyncState_SYNC_STATE_PRIMARY
	case engine.ModeBackup:
		return ctsyncv1.SyncState_SYNC_STATE_BACKUP
	case engine.ModeFault:
		return ctsyncv1.SyncState_SYNC_STATE_FAULT
	}
	return ctsyncv1.SyncState_SYNC_STATE_UNSPECIFIED
}

func wireStateMessage(s wire.State) ctsyncv1.SyncState {
	switch s {
	case wire.StatePrimary:
		return ctsyncv1.SyncState_SYNC_STATE_PRIMARY
	case wire.StateBackup:
		return ctsyncv1.SyncState_SYNC_STATE_BACKUP
	case wire.StateFault:
		return ctsyncv1.SyncState_SYNC_STATE_FAULT
	}
	return ctsyncv1.SyncState_SYNC_STATE_UNSPECIFIED
}

// expectProtocols maps config.ExpectHelpers to the API's enum.
var expectProtocols = map[string]ctsyncv1.ExpectProtocol{
	"ftp":    ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_FTP,
	"sip":    ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_SIP,
	"h323":   ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_H323,
	"nfs":    ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_NFS,
	"sqlnet": ctsyncv1.ExpectProtocol_EXPECT_PROTOCOL_SQLNET,
}

func expectMessages(helpers []string) []ctsyncv1.ExpectProtocol {
	var out []ctsyncv1.ExpectProtocol
	for _, h := range helpers {
		if p, ok := expectProtocols[h]; ok {
			out = append(out, p)
		}
	}
	return out
}

// peerMessage is the peer as the session hears it; empty before its
// first message. Its address is the source of its last valid datagram,
// else the configured unicast peer.
func peerMessage(st engine.Status) *ctsyncv1.Peer {
	ses := st.Session
	if !ses.PeerKnown {
		return &ctsyncv1.Peer{}
	}
	p := &ctsyncv1.Peer{
		LastHeard: timestamp(ses.LastHeard),
		BootId:    bootID(ses.PeerBoot),
		State:     wireStateMessage(ses.PeerState),
		Alive:     ses.PeerAlive,
	}
	switch {
	case st.PeerAddress.IsValid():
		p.Address = st.PeerAddress.Addr().String()
	case st.Config.Peer.IsValid():
		p.Address = st.Config.Peer.String()
	}
	return p
}

// bootID is the peer's boot id as printed, empty when unknown (0).
func bootID(b uint32) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%x", b)
}

func commitMessage(c engine.Commit) *ctsyncv1.Commit {
	if c.At.IsZero() {
		return nil
	}
	return &ctsyncv1.Commit{
		Time: timestamp(c.At), Entries: uint64(max(c.Entries, 0)), Failed: uint64(max(c.Failed, 0)),
		Expects: uint64(max(c.Expects, 0)), ExpectsFailed: uint64(max(c.ExpectsFailed, 0)),
		Duration: durationpb.New(c.Duration),
	}
}

// digestMessage is the last comparison of the peer's digest with the
// external cache (issue 5: know whether the peers agree).
func digestMessage(st engine.Status) *ctsyncv1.DigestStatus {
	ses := st.Session
	d := &ctsyncv1.DigestStatus{Mismatches: ses.DigestsMismatch}
	if ses.LastDigest.IsZero() {
		return d
	}
	d.LastCheck = timestamp(ses.LastDigest)
	d.LastMismatchedBuckets = uint32(max(ses.LastDigestBuckets, 0))
	d.LastResult = ctsyncv1.DigestResult_DIGEST_RESULT_MATCH
	if ses.LastDigestBuckets > 0 {
		d.LastResult = ctsyncv1.DigestResult_DIGEST_RESULT_MISMATCH
	}
	return d
}

// statisticsMessage is `show conntrack-sync statistics` (CS-O03). The
// sync channel is one socket for both tables: each table shows the
// datagrams that carried its records and its retransmits, digests and
// repairs (sync.TableCounters); what belongs to no one table (control
// datagrams, errors, malformed and lost messages, nacks, resyncs) shows
// under main.
func statisticsMessage(st engine.Status, since time.Time) *ctsyncv1.ShowStatisticsResponse {
	if !enabled(st) {
		return &ctsyncv1.ShowStatisticsResponse{}
	}
	ses := st.Session
	device := st.Config.Interface
	if st.Channel.Interface != "" {
		device = st.Channel.Interface
	}
	traffic := func(t *sync.TableCounters) *ctsyncv1.SyncTraffic {
		return &ctsyncv1.SyncTraffic{
			Device:    device,
			BytesSent: t.BytesSent, BytesReceived: t.BytesRecv,
			PacketsSent: t.PacketsSent, PacketsReceived: t.PacketsRecv,
		}
	}
	replication := func(t *sync.TableCounters) *ctsyncv1.ReplicationStatistics {
		return &ctsyncv1.ReplicationStatistics{
			Retransmits: t.Retransmits, Repairs: t.RepairsAnswered,
			DigestChecks: t.DigestsOK + t.DigestsMismatch, DigestMismatches: t.DigestsMismatch,
		}
	}
	mt, xt := &ses.Tables[wire.TableMain], &ses.Tables[wire.TableExpect]
	main := &ctsyncv1.TableStatistics{
		Internal:         cacheStatistics(st.Main.Internal, st.Main.InternalLen),
		External:         cacheStatistics(st.Main.External, st.Main.ExternalLen),
		ProcessedBytes:   st.Kernel.Bytes,
		ProcessedPackets: st.Kernel.Packets,
		Sync:             traffic(mt),
		Replication:      replication(mt),
	}
	main.Sync.SendErrors, main.Sync.ReceiveErrors = ses.SendErrors, ses.RecvErrors
	main.Sync.Malformed, main.Sync.Lost = ses.Malformed.Total(), ses.LostMsgs
	r := main.Replication
	r.NacksSent, r.NacksReceived = ses.NacksSent, ses.NacksRecv
	r.Overruns, r.Resyncs = st.Kernel.Overruns, ses.ResyncSent+ses.ResyncAnswered
	expect := &ctsyncv1.TableStatistics{
		Internal:    cacheStatistics(st.Expect.Internal, st.Expect.InternalLen),
		External:    cacheStatistics(st.Expect.External, st.Expect.ExternalLen),
		Sync:        traffic(xt),
		Replication: replication(xt),
	}
	return &ctsyncv1.ShowStatisticsResponse{
		Enabled: true, Since: timestamp(since), ExpectSync: len(st.Config.Expect) > 0, Main: main, Expect: expect,
	}
}

// cacheStatistics: current is the cache's size as the engine measured it.
func cacheStatistics(c cache.Counters, n int) *ctsyncv1.CacheStatistics {
	return &ctsyncv1.CacheStatistics{
		Current: uint64(max(n, 0)),
		Created: c.Created, CreatedFailed: c.CreatedFailed,
		Updated: c.Updated, UpdatedFailed: c.UpdatedFailed,
		Destroyed: c.Destroyed, DestroyedFailed: c.DestroyedFailed,
	}
}

// diagnostics converts configuration errors and warnings.
func diagnostics(err error, warnings hc.Diagnostics) []*ctsyncv1.Diagnostic {
	var out []*ctsyncv1.Diagnostic
	add := func(sev ctsyncv1.Severity, d *hc.Diagnostic) {
		out = append(out, &ctsyncv1.Diagnostic{
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
				add(ctsyncv1.Severity_SEVERITY_ERROR, d)
			}
		case errors.As(err, &one):
			add(ctsyncv1.Severity_SEVERITY_ERROR, one)
		default:
			out = append(out, &ctsyncv1.Diagnostic{Severity: ctsyncv1.Severity_SEVERITY_ERROR, Message: err.Error()})
		}
	}
	for _, d := range warnings {
		add(ctsyncv1.Severity_SEVERITY_WARNING, d)
	}
	return out
}

// secrets finds the values of `secret` in a text, even one too broken to
// parse: a quoted value whole, quoted and unquoted, or the one word after
// the keyword. Not the words of a quoted value one by one: they are
// ordinary words ("sync") that messages need.
func secrets(src []byte) []string {
	var out []string
	text := string(src)
	for i := 0; ; {
		j := strings.Index(text[i:], "secret")
		if j < 0 {
			return out
		}
		i += j + len("secret")
		if i < len(text) && text[i] != ' ' && text[i] != '\t' {
			continue // "secrets", "secret-x": not the keyword
		}
		rest := strings.TrimLeft(text[i:], " \t")
		if rest == "" || rest[0] == '\n' {
			continue
		}
		if rest[0] == '"' {
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				out = append(out, q)
				if u, err := strconv.Unquote(q); err == nil {
					out = append(out, u)
				}
				continue
			}
			rest = rest[1:] // unterminated: hide what follows the quote
		}
		word := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '}' || r == ';' || r == '"' })
		if len(word) > 0 {
			out = append(out, word[0])
		}
	}
}

// hideSecret replaces the secret wherever a message repeats it (a parser
// quoting the token it stumbled on) by asterisks.
func hideSecret(src []byte, diags []*ctsyncv1.Diagnostic) []*ctsyncv1.Diagnostic {
	found := secrets(src)
	for _, d := range diags {
		for _, s := range found {
			if len(s) >= 3 { // shorter would blank out ordinary words and braces
				d.Message = strings.ReplaceAll(d.Message, s, "********")
				d.Path = strings.ReplaceAll(d.Path, s, "********")
			}
		}
	}
	return diags
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// logRecord is the API form of a log ring entry.
func logRecord(e daemon.LogEntry) *ctsyncv1.LogRecord {
	msg := &ctsyncv1.LogRecord{Time: timestamp(e.Time), Level: e.Level.String(), Message: e.Message}
	for _, a := range e.Attrs {
		msg.Attrs = append(msg.Attrs, &ctsyncv1.LogAttr{Key: a.Key, Value: a.Value})
	}
	return msg
}
