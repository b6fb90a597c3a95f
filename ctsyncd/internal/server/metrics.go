package server

import (
	"context"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/metrics"
)

// modes are the states of ctsyncd_state, one sample each, so a dashboard
// can alert on `ctsyncd_state{state="FAULT"} == 1`.
var modes = []engine.Mode{engine.ModeNone, engine.ModePrimary, engine.ModeBackup, engine.ModeFault}

// sessionCounter is one of the sync session's counters as a metric.
type sessionCounter struct {
	name, help string
	value      func(sync.Counters) uint64
}

var sessionCounters = []sessionCounter{
	{"ctsyncd_sync_bytes_sent_total", "Bytes sent on the sync channel.", func(c sync.Counters) uint64 { return c.BytesSent }},
	{"ctsyncd_sync_bytes_received_total", "Bytes received on the sync channel.", func(c sync.Counters) uint64 { return c.BytesRecv }},
	{"ctsyncd_sync_packets_sent_total", "Datagrams sent on the sync channel.", func(c sync.Counters) uint64 { return c.PacketsSent }},
	{"ctsyncd_sync_packets_received_total", "Datagrams received on the sync channel.", func(c sync.Counters) uint64 { return c.PacketsRecv }},
	{"ctsyncd_sync_send_errors_total", "Datagrams the kernel refused to send.", func(c sync.Counters) uint64 { return c.SendErrors }},
	{"ctsyncd_sync_receive_errors_total", "Errors reading the sync socket.", func(c sync.Counters) uint64 { return c.RecvErrors }},
	{"ctsyncd_sync_lost_messages_total", "Updates lost for good (CS-B07); a resync follows.", func(c sync.Counters) uint64 { return c.LostMsgs }},
	{"ctsyncd_sync_overflows_total", "Times the resend queue's bound overflowed (CS-B09).", func(c sync.Counters) uint64 { return c.Overflows }},
	{"ctsyncd_sync_retransmits_total", "Updates sent again after a NACK or a missing acknowledgement.", func(c sync.Counters) uint64 { return c.Retransmits }},
	{"ctsyncd_sync_nacks_sent_total", "Gaps this node reported to the peer.", func(c sync.Counters) uint64 { return c.NacksSent }},
	{"ctsyncd_sync_nacks_received_total", "Gaps the peer reported.", func(c sync.Counters) uint64 { return c.NacksRecv }},
	{"ctsyncd_resyncs_requested_total", "Full resyncs asked of the peer.", func(c sync.Counters) uint64 { return c.ResyncSent }},
	{"ctsyncd_resyncs_answered_total", "Full resyncs the peer asked for and this node sent.", func(c sync.Counters) uint64 { return c.ResyncAnswered }},
	{"ctsyncd_digest_checks_total", "Comparisons of both nodes' bucket digests.", func(c sync.Counters) uint64 { return c.DigestsOK + c.DigestsMismatch }},
	{"ctsyncd_digest_mismatches_total", "Digest comparisons that found differing buckets (repaired by a resend).", func(c sync.Counters) uint64 { return c.DigestsMismatch }},
	{"ctsyncd_peer_restarts_total", "Times the peer came back with a new boot id.", func(c sync.Counters) uint64 { return c.PeerRestarts }},
}

// cacheCounter is one of a cache's counters as a metric, labelled with
// the cache and the table.
type cacheCounter struct {
	name, help string
	value      func(cache.Counters) uint64
}

var cacheCounters = []cacheCounter{
	{"ctsyncd_cache_created_total", "Entries created in the cache.", func(c cache.Counters) uint64 { return c.Created }},
	{"ctsyncd_cache_create_failures_total", "Creations that failed (external: kernel commit errors).", func(c cache.Counters) uint64 { return c.CreatedFailed }},
	{"ctsyncd_cache_updated_total", "Entries updated in the cache.", func(c cache.Counters) uint64 { return c.Updated }},
	{"ctsyncd_cache_update_failures_total", "Updates that failed.", func(c cache.Counters) uint64 { return c.UpdatedFailed }},
	{"ctsyncd_cache_destroyed_total", "Entries destroyed in the cache.", func(c cache.Counters) uint64 { return c.Destroyed }},
	{"ctsyncd_cache_destroy_failures_total", "Destructions that failed.", func(c cache.Counters) uint64 { return c.DestroyedFailed }},
}

// Metrics is the collector behind --metrics-listen: the sync state, the
// peer, the caches, the channel and the replication counters. Without
// `service conntrack-sync` every family is empty.
func (s *Server) Metrics(ctx context.Context) ([]metrics.Family, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	state := metrics.Family{Name: "ctsyncd_state", Type: metrics.Gauge,
		Help: "1 for ctsyncd's state (NONE before the first transition, PRIMARY, BACKUP, FAULT), 0 for the others."}
	peerAlive := metrics.Family{Name: "ctsyncd_peer_alive", Type: metrics.Gauge,
		Help: "1 while the peer's messages arrive within dead-interval."}
	demoted := metrics.Family{Name: "ctsyncd_demoted", Type: metrics.Gauge,
		Help: "1 while this node holds a demotion of its group: the peer's table has not arrived since start."}
	problem := metrics.Family{Name: "ctsyncd_problem", Type: metrics.Gauge,
		Help: "1 while something keeps sync from working (producer missing, sync interface down); see show conntrack-sync status."}
	entries := metrics.Family{Name: "ctsyncd_cache_entries", Type: metrics.Gauge,
		Help: "Entries in the cache now."}
	atRisk := metrics.Family{Name: "ctsyncd_entries_at_risk", Type: metrics.Gauge,
		Help: "Changes sent to the peer and not acknowledged yet: what a failover now would lose."}
	oldest := metrics.Family{Name: "ctsyncd_oldest_unacked_seconds", Type: metrics.Gauge,
		Help: "Age of the oldest unacknowledged change (0 when none)."}
	malformed := metrics.Family{Name: "ctsyncd_sync_dropped_total", Type: metrics.Counter,
		Help: "Received datagrams dropped, by reason (bad-mac: another secret; truncated; ...)."}
	overruns := metrics.Family{Name: "ctsyncd_kernel_overruns_total", Type: metrics.Counter,
		Help: "Kernel event losses (ENOBUFS) on the event socket, each followed by a resync (CS-B08)."}
	events := metrics.Family{Name: "ctsyncd_kernel_events_total", Type: metrics.Counter,
		Help: "Conntrack events received from the kernel."}
	filtered := metrics.Family{Name: "ctsyncd_kernel_events_filtered_total", Type: metrics.Counter,
		Help: "Conntrack events the filter dropped (accept-protocol, ignore-address)."}
	commitAt := metrics.Family{Name: "ctsyncd_last_commit_timestamp_seconds", Type: metrics.Gauge,
		Help: "When the external cache was last written into the kernel (Unix time); absent if never."}
	commitSeconds := metrics.Family{Name: "ctsyncd_last_commit_duration_seconds", Type: metrics.Gauge,
		Help: "How long the last commit took."}
	commitFailed := metrics.Family{Name: "ctsyncd_last_commit_failed_entries", Type: metrics.Gauge,
		Help: "Entries the kernel refused in the last commit."}
	perSession := make([]metrics.Family, len(sessionCounters))
	for i, c := range sessionCounters {
		perSession[i] = metrics.Family{Name: c.name, Help: c.help, Type: metrics.Counter}
	}
	perCache := make([]metrics.Family, len(cacheCounters))
	for i, c := range cacheCounters {
		perCache[i] = metrics.Family{Name: c.name, Help: c.help, Type: metrics.Counter}
	}
	fams := func() []metrics.Family {
		out := []metrics.Family{state, peerAlive, demoted, problem, entries, atRisk, oldest, malformed, overruns,
			events, filtered, commitAt, commitSeconds, commitFailed}
		return append(append(out, perSession...), perCache...)
	}
	if !enabled(st) {
		return fams(), nil
	}
	group := st.Config.BusGroup()
	label := metrics.L("group", group)
	gauge := func(f *metrics.Family, v float64, labels []metrics.Label) {
		f.Samples = append(f.Samples, metrics.Sample{Labels: labels, Value: v})
	}
	flag := func(on bool) float64 {
		if on {
			return 1
		}
		return 0
	}
	for _, m := range modes {
		name := "NONE"
		if m != engine.ModeNone {
			name = stateMessage(m).String()[len("SYNC_STATE_"):]
		}
		gauge(&state, flag(st.Mode == m), metrics.L("group", group, "state", name))
	}
	ses := st.Session
	gauge(&peerAlive, flag(ses.PeerAlive), label)
	gauge(&demoted, flag(st.Demoted), label)
	gauge(&problem, flag(st.Producer.Problem != "" || st.Channel.Problem != ""), label)
	gauge(&atRisk, float64(ses.EntriesAtRisk), label)
	gauge(&oldest, ses.OldestUnacked.Seconds(), label)
	tables := []struct {
		name string
		t    engine.Tables
	}{{"main", st.Main}, {"expect", st.Expect}}
	for _, tb := range tables {
		for _, c := range []struct {
			name string
			n    int
			cnt  cache.Counters
		}{{"internal", tb.t.InternalLen, tb.t.Internal}, {"external", tb.t.ExternalLen, tb.t.External}} {
			labels := metrics.L("group", group, "cache", c.name, "table", tb.name)
			gauge(&entries, float64(c.n), labels)
			for i, cc := range cacheCounters {
				gauge(&perCache[i], float64(cc.value(c.cnt)), labels)
			}
		}
	}
	for _, r := range wire.DropReasons() {
		gauge(&malformed, float64(ses.Malformed[r]), metrics.L("group", group, "reason", r.String()))
	}
	gauge(&overruns, float64(st.Kernel.Overruns), label)
	gauge(&events, float64(st.Kernel.Events), label)
	gauge(&filtered, float64(st.Kernel.Filtered), label)
	if c := st.LastCommit; !c.At.IsZero() {
		gauge(&commitAt, float64(c.At.UnixMilli())/1000, label)
		gauge(&commitSeconds, c.Duration.Seconds(), label)
		gauge(&commitFailed, float64(c.Failed), label)
	}
	for i, c := range sessionCounters {
		gauge(&perSession[i], float64(c.value(ses.Counters)), label)
	}
	return fams(), nil
}
