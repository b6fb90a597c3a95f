package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/show"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current renderings")

// showGolden is where the show package keeps its renderings of the
// guide's examples: where the engine's status holds what they show, the
// conversion must produce the messages those tests render.
const showGolden = "../show/testdata"

// checkGolden compares got with dir/<name>.golden; -update rewrites the
// files of this package (never the show package's).
func checkGolden(t *testing.T, dir, name, got string) {
	t.Helper()
	path := filepath.Join(dir, name+".golden")
	if *update && dir == "testdata" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("rendering differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// guideStatus is R1 of Examples 4-17 (conf guide-status.conf) and 4-18
// (guide-status-expect-all.conf): PRIMARY since the guide's transition,
// the peer heard, one commit, the table synced.
func guideStatus(t *testing.T, conf string) engine.Status {
	t.Helper()
	return engine.Status{
		Configured: true, Config: load(t, conf), Now: now,
		Mode: engine.ModePrimary, Since: transition, Reason: "cluster group test active",
		Producer: engine.Producer{Group: "cluster/test", Source: "clusterd"},
		Channel:  engine.Channel{Interface: "eth1", Destination: "225.0.0.50:3780", Up: true},
		Session: sync.Status{
			Counters:  sync.Counters{ResyncSent: 1, ResyncAnswered: 2, DigestsOK: 9360},
			PeerKnown: true, PeerBoot: 0x77aa, PeerAlive: true, PeerState: wire.StateBackup, LastHeard: now.Add(-400 * time.Millisecond),
		},
		LastCommit: engine.Commit{At: transition, Entries: 4, Duration: 3400 * time.Microsecond},
		Main:       engine.Tables{InternalLen: 10},
	}
}

// TestCS_O01_StatusConversion: engine statuses converted and rendered give
// the guide's lines first and byte-exact (Examples 4-17, 4-18), and
// exactly the show package's renderings of the states whose every figure
// the engine's status carries.
func TestCS_O01_StatusConversion(t *testing.T) {
	vrrp := func(t *testing.T) engine.Status {
		return engine.Status{
			Configured: true, Config: load(t, "vrrp-unicast.conf"), Now: now,
			Mode: engine.ModeFault, Since: now.Add(-2 * time.Minute),
			Producer: engine.Producer{Group: "sync-group/TESTING", Source: "vrrpd", Problem: "producer has no group TESTING"},
			Channel:  engine.Channel{Interface: "eth1", Destination: "10.9.9.2:3780", Up: true},
			Session:  sync.Status{PeerKnown: true, PeerState: wire.StatePrimary, LastHeard: now.Add(-47 * time.Second)},
			Demoted:  true,
			Main:     engine.Tables{InternalLen: 1, ExternalLen: 1},
		}
	}
	tests := []struct {
		name    string
		dir     string // of the golden: the show package's, or ours
		printed string // the guide's example that must come first
		status  func(t *testing.T) engine.Status
	}{
		{"Example4_17_ExpectationSyncDisabled", "testdata", "4-17",
			func(t *testing.T) engine.Status { return guideStatus(t, "guide-status.conf") }},
		{"Example4_18_ExpectationSyncAll", "testdata", "4-18",
			func(t *testing.T) engine.Status { return guideStatus(t, "guide-status-expect-all.conf") }},
		{"VRRP_ProducerHasNoGroup", showGolden, "", vrrp},
		{"NoTransitionYet_NoPeerYet", showGolden, "", func(t *testing.T) engine.Status {
			return engine.Status{Configured: true, Config: load(t, "no-peer-yet.conf"), Now: now, Demoted: true}
		}},
		{"NotConfigured", showGolden, "", func(t *testing.T) engine.Status {
			return engine.Status{Configured: false, Config: load(t, "not-configured.conf"), Now: now}
		}},
		{"SyncChannelDown", "testdata", "", func(t *testing.T) engine.Status {
			st := guideStatus(t, "guide-status.conf")
			st.Channel.Problem = "interface eth1 does not exist"
			st.Demoted, st.DemotionWhy = true, "the peer's table has not arrived yet"
			st.Session.EntriesAtRisk, st.Session.OldestUnacked = 12, 180*time.Millisecond
			return st
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.status(t))
			resp, err := f.client.ShowStatus(t.Context(), &ctsyncv1.ShowStatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			got := show.Status(resp.Status, now)
			checkGolden(t, tt.dir, "TestCS_O01_Status_"+tt.name, got)
			if tt.printed != "" {
				want, err := os.ReadFile(filepath.Join(showGolden, "guide", "example"+tt.printed+".txt"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(got, string(want)+"\n") {
					t.Errorf("the guide's lines are not first and byte-exact\ngot:\n%q\nwant prefix:\n%q", got, want)
				}
			}
			if strings.Contains(got, "a sync secret") || strings.Contains(resp.String(), "a sync secret") {
				t.Errorf("the status shows the secret:\n%s", got)
			}
		})
	}
}

// ep is an endpoint of the guide's rows.
func ep(s string) netip.Addr { return netip.MustParseAddr(s) }

// example413 is the internal cache of the guide's Example 4-13: ten
// connections and the FTP data expectation.
func example413() engine.Snapshot {
	type row struct {
		src      string
		sport    uint16
		dst      string
		dport    uint16
		protocol uint8
	}
	rows := []row{
		{"172.16.117.128", 0, "172.16.117.133", 0, ct.ProtoICMP},
		{"172.16.139.128", 0, "172.16.139.131", 0, ct.ProtoICMP},
		{"10.0.1.4", 123, "199.4.29.166", 123, ct.ProtoUDP},
		{"172.16.139.131", 55757, "172.16.117.133", 21, ct.ProtoTCP},
		{"172.16.139.131", 0, "172.16.117.133", 0, ct.ProtoICMP},
		{"172.16.139.131", 55776, "172.16.117.133", 21, ct.ProtoTCP},
		{"192.168.74.128", 43418, "225.0.0.50", 3780, ct.ProtoUDP},
		{"192.168.74.128", 36199, "239.251.252.253", 694, ct.ProtoUDP},
		{"10.0.1.5", 64449, "10.0.1.4", 22, ct.ProtoTCP},
		{"192.168.74.128", 0, "224.0.0.22", 0, 2}, // IGMP: `unknown [2]`
	}
	var snap engine.Snapshot
	for _, r := range rows {
		orig := ct.Tuple{Src: ep(r.src), Dst: ep(r.dst), Proto: r.protocol, SrcPort: r.sport, DstPort: r.dport}
		reply := ct.Tuple{Src: ep(r.dst), Dst: ep(r.src), Proto: r.protocol, SrcPort: r.dport, DstPort: r.sport}
		e := ct.Entry{Orig: orig, Reply: reply, Status: ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed, Timeout: 120}
		if r.protocol == ct.ProtoTCP {
			e.TCP.State, e.Timeout = ct.TCPEstablished, 431999
		}
		snap.Main = append(snap.Main, e)
	}
	all := ep("255.255.255.255")
	snap.Expect = []ct.Expect{{
		Master: ct.Tuple{Src: ep("172.16.139.131"), Dst: ep("172.16.117.133"), Proto: ct.ProtoTCP, SrcPort: 55776, DstPort: 21},
		Tuple:  ct.Tuple{Src: ep("172.16.139.131"), Dst: ep("172.16.117.133"), Proto: ct.ProtoTCP, DstPort: 54249},
		Mask:   ct.Tuple{Src: all, Dst: all, Proto: 0xff, DstPort: 0xffff}, Timeout: 295, Helper: "ftp",
	}}
	return snap
}

// streamCache runs ShowCache and renders its stream as the CLI does.
func streamCache(t *testing.T, f *fixture, req *ctsyncv1.ShowCacheRequest) (text string, chunks int) {
	t.Helper()
	stream, err := f.client.ShowCache(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := show.NewCacheWriter(&b)
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		chunks++
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), chunks
}

// TestCS_O02_CacheConversion: the guide's Example 4-13 held by the engine
// streams into exactly the show package's renderings, both tables or one
// (CS-O02); without expect-sync no expectation is asked for.
func TestCS_O02_CacheConversion(t *testing.T) {
	tests := []struct {
		golden     string
		conf       string
		cache      ctsyncv1.Cache
		table      ctsyncv1.Table
		wantExpect bool
	}{
		{"Example4_13_Internal_Both", "guide-status-expect-all.conf", ctsyncv1.Cache_CACHE_INTERNAL, ctsyncv1.Table_TABLE_UNSPECIFIED, true},
		{"Example4_14_Internal_Main", "guide-status-expect-all.conf", ctsyncv1.Cache_CACHE_INTERNAL, ctsyncv1.Table_TABLE_MAIN, false},
		{"Example4_15_Internal_Expect", "guide-status-expect-all.conf", ctsyncv1.Cache_CACHE_INTERNAL, ctsyncv1.Table_TABLE_EXPECT, true},
		{"Example4_14_Internal_Main", "guide-status.conf", ctsyncv1.Cache_CACHE_INTERNAL, ctsyncv1.Table_TABLE_MAIN, false},
		{"NotConfigured", "not-configured.conf", ctsyncv1.Cache_CACHE_EXTERNAL, ctsyncv1.Table_TABLE_UNSPECIFIED, false},
	}
	for _, tt := range tests {
		t.Run(tt.golden+"_"+strings.TrimSuffix(tt.conf, ".conf"), func(t *testing.T) {
			cfg := load(t, tt.conf)
			f := newFixture(t, engine.Status{Configured: cfg.Enabled, Config: cfg, Now: now})
			f.eng.caches[engine.Internal] = example413()
			got, _ := streamCache(t, f, &ctsyncv1.ShowCacheRequest{Cache: tt.cache, Table: tt.table})
			checkGolden(t, showGolden, "TestCS_O02_Cache_"+tt.golden, got)
			for _, ask := range f.eng.cacheAsk {
				if ask[1] != tt.wantExpect {
					t.Errorf("Cache asked for expectations %v, want %v", ask[1], tt.wantExpect)
				}
			}
		})
	}
}

// TestCS_O02_CacheChunks: 10k entries stream in chunks of the size asked,
// capped at MaxCacheChunk; a cache must be named.
func TestCS_O02_CacheChunks(t *testing.T) {
	f := newFixture(t, guideStatus(t, "guide-status.conf"))
	base := example413().Main[2]
	entries := make([]ct.Entry, 10000)
	for i := range entries {
		entries[i] = base
		entries[i].Orig.SrcPort = uint16(1024 + i)
	}
	f.eng.caches[engine.External] = engine.Snapshot{Main: entries}
	for _, tt := range []struct {
		size   uint32
		chunks int
	}{{0, 1 + 10}, {1000, 1 + 10}, {3, 1 + 3334}, {1 << 20, 1 + 3}} {
		text, n := streamCache(t, f, &ctsyncv1.ShowCacheRequest{Cache: ctsyncv1.Cache_CACHE_EXTERNAL, Table: ctsyncv1.Table_TABLE_MAIN, ChunkSize: tt.size})
		if n != tt.chunks || strings.Count(text, "\n") != 1+len(entries) {
			t.Errorf("chunk size %d: %d messages, %d lines; want %d messages, %d lines", tt.size, n, strings.Count(text, "\n"), tt.chunks, 1+len(entries))
		}
	}
	stream, err := f.client.ShowCache(t.Context(), &ctsyncv1.ShowCacheRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("ShowCache without a cache: %v, want InvalidArgument", err)
	}
}

// example4_16 is Example 4-16's node: its caches, and its session's
// counters with the expect table's traffic and digests added when expect
// is set (its figures under both tables, the channel's totals the sums).
func example4_16(t *testing.T, expect bool) engine.Status {
	st := guideStatus(t, "guide-status-expect-all.conf")
	st.Main = engine.Tables{InternalLen: 3, ExternalLen: 4}
	st.Main.Internal.Created, st.Main.Internal.Updated, st.Main.Internal.Destroyed = 3477, 12, 3474
	st.Main.External.Created, st.Main.External.Updated, st.Main.External.Destroyed = 11, 8, 7
	st.Expect = engine.Tables{InternalLen: 1}
	st.Expect.Internal.Created = 1
	st.Kernel = engine.KernelCounters{Bytes: 135219375, Packets: 163080}
	main := sync.TableCounters{
		Traffic:     sync.Traffic{BytesSent: 333248, BytesRecv: 327592, PacketsSent: 8515, PacketsRecv: 8137},
		Retransmits: 12, DigestsOK: 9360,
	}
	c := sync.Counters{Traffic: main.Traffic, Retransmits: 12, NacksSent: 2, NacksRecv: 3, ResyncSent: 1, DigestsOK: 9360}
	c.Tables[wire.TableMain] = main
	if expect {
		x := sync.TableCounters{Traffic: sync.Traffic{BytesSent: 5204, PacketsSent: 149}, DigestsOK: 9360}
		c.Tables[wire.TableExpect] = x
		c.BytesSent += x.BytesSent
		c.PacketsSent += x.PacketsSent
		c.DigestsOK += x.DigestsOK
	}
	st.Session.Counters = c
	return st
}

// TestCS_O03_StatisticsConversion: the engine's counters of Example 4-16
// render as the show package's main table; the counters start again at a
// restart (CS-B17).
func TestCS_O03_StatisticsConversion(t *testing.T) {
	st := example4_16(t, false)
	clock := now
	f := newFixture(t, st, func(o *Options) { o.Now = func() time.Time { return clock } })
	resp, err := f.client.ShowStatistics(t.Context(), &ctsyncv1.ShowStatisticsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, showGolden, "TestCS_O03_Statistics_Example4_16_Main", show.Statistics(resp, ctsyncv1.Table_TABLE_MAIN))
	checkGolden(t, "testdata", "TestCS_O03_Statistics_Both", show.Statistics(resp, ctsyncv1.Table_TABLE_UNSPECIFIED))
	if got := resp.Since.AsTime(); !got.Equal(now.Add(-26 * time.Hour)) {
		t.Errorf("since %v, want the daemon's start", got)
	}

	clock = now.Add(time.Minute)
	if _, err := f.client.Restart(t.Context(), &ctsyncv1.RestartRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err = f.client.ShowStatistics(t.Context(), &ctsyncv1.ShowStatisticsRequest{})
	if err != nil || !resp.Since.AsTime().Equal(clock) {
		t.Errorf("since after a restart: %v, %v; want %v", resp.GetSince(), err, clock)
	}

	none := newFixture(t, engine.Status{Now: now})
	resp, err = none.client.ShowStatistics(t.Context(), &ctsyncv1.ShowStatisticsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, showGolden, "TestCS_O03_Statistics_NotConfigured", show.Statistics(resp, ctsyncv1.Table_TABLE_UNSPECIFIED))
}

// TestCS_O03_StatisticsConversion_ExpectTraffic: the session's per-table
// counters fill each table's traffic and replication blocks (Example
// 4-16's expect table sent 149 datagrams, 5204 bytes); what belongs to no
// one table (nacks, resyncs, errors, malformed, lost) stays under main.
func TestCS_O03_StatisticsConversion_ExpectTraffic(t *testing.T) {
	resp := statisticsMessage(example4_16(t, true), now.Add(-26*time.Hour))
	for _, tt := range []struct {
		golden string
		table  ctsyncv1.Table
	}{
		{"TestCS_O03_Statistics_Example4_16_Both", ctsyncv1.Table_TABLE_UNSPECIFIED},
		{"TestCS_O03_Statistics_Example4_16_Main", ctsyncv1.Table_TABLE_MAIN},
		{"TestCS_O03_Statistics_Example4_16_Expect", ctsyncv1.Table_TABLE_EXPECT},
	} {
		checkGolden(t, showGolden, tt.golden, show.Statistics(resp, tt.table))
	}

	st := example4_16(t, true)
	c := &st.Session.Counters
	c.SendErrors, c.RecvErrors, c.LostMsgs, c.Malformed[wire.DropBadMAC] = 1, 2, 3, 4
	c.Tables[wire.TableExpect].Retransmits, c.Tables[wire.TableExpect].RepairsAnswered = 5, 6
	c.Tables[wire.TableExpect].DigestsMismatch = 7
	resp = statisticsMessage(st, now)
	mt, xt := resp.GetMain(), resp.GetExpect()
	if s := mt.GetSync(); s.GetSendErrors() != 1 || s.GetReceiveErrors() != 2 || s.GetLost() != 3 || s.GetMalformed() != 4 {
		t.Errorf("main's errors and message tracking: %v, want 1 2 3 4: the channel's", s)
	}
	if s := xt.GetSync(); s.GetSendErrors()+s.GetReceiveErrors()+s.GetLost()+s.GetMalformed() != 0 {
		t.Errorf("expect's errors and message tracking: %v, want none: they are main's", s)
	}
	if r := xt.GetReplication(); r.GetRetransmits() != 5 || r.GetRepairs() != 6 || r.GetDigestChecks() != 9367 ||
		r.GetDigestMismatches() != 7 || r.GetNacksSent()+r.GetNacksReceived()+r.GetResyncs() != 0 {
		t.Errorf("expect's replication: %v, want 5 retransmits, 6 repairs, 9367 digest checks, 7 mismatches, no nacks or resyncs", r)
	}
	if r := mt.GetReplication(); r.GetRetransmits() != 12 || r.GetNacksSent() != 2 || r.GetNacksReceived() != 3 || r.GetResyncs() != 1 {
		t.Errorf("main's replication: %v, want Example 4-16's", r)
	}
}

// TestCS_B17_B18_B19_Commands: reset and restart reach the engine, say
// what was flushed, and are refused with the reason when sync is not
// configured or the engine refuses.
func TestCS_B17_B18_B19_Commands(t *testing.T) {
	st := guideStatus(t, "guide-status-expect-all.conf")
	st.Main.InternalLen, st.Main.ExternalLen, st.Expect.InternalLen, st.Expect.ExternalLen = 10, 7, 1, 2
	f := newFixture(t, st)
	ctx := t.Context()
	resp, err := f.client.ResetCache(ctx, &ctsyncv1.ResetCacheRequest{Cache: ctsyncv1.Cache_CACHE_EXTERNAL})
	if err != nil || resp.FlushedEntries != 7 || resp.FlushedExpects != 2 {
		t.Errorf("reset external-cache: %v, %v; want 7 entries and 2 expectations flushed", resp, err)
	}
	resp, err = f.client.ResetCache(ctx, &ctsyncv1.ResetCacheRequest{Cache: ctsyncv1.Cache_CACHE_INTERNAL})
	if err != nil || resp.FlushedEntries != 10 || resp.FlushedExpects != 1 {
		t.Errorf("reset internal-cache: %v, %v; want 10 entries and 1 expectation flushed", resp, err)
	}
	if _, err := f.client.ResetCache(ctx, &ctsyncv1.ResetCacheRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("reset without a cache: %v, want InvalidArgument", err)
	}
	if _, err := f.client.Restart(ctx, &ctsyncv1.RestartRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(f.eng.resets) != 2 || f.eng.resets[0] != engine.External || f.eng.resets[1] != engine.Internal || f.eng.restarts != 1 {
		t.Errorf("engine got resets %v and %d restarts, want [external internal] and 1", f.eng.resets, f.eng.restarts)
	}

	f.eng.cmdErr = errors.New("a resync is already running")
	_, err = f.client.Restart(ctx, &ctsyncv1.RestartRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "a resync is already running") {
		t.Errorf("restart refused by the engine: %v, want FailedPrecondition with its reason", err)
	}

	none := newFixture(t, engine.Status{Now: now})
	_, err = none.client.ResetCache(ctx, &ctsyncv1.ResetCacheRequest{Cache: ctsyncv1.Cache_CACHE_INTERNAL})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("reset without sync configured: %v, want FailedPrecondition saying it is not configured", err)
	}
	if _, err := none.client.Restart(ctx, &ctsyncv1.RestartRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("restart without sync configured: %v, want FailedPrecondition", err)
	}
	if len(none.eng.resets) != 0 || none.eng.restarts != 0 {
		t.Error("the engine was asked to reset or restart with sync not configured")
	}
}

// TestEngineStopped: every request made while the engine is stopping says
// so, as Unavailable, so the CLI tells the operator to retry.
func TestEngineStopped(t *testing.T) {
	f := newFixture(t, guideStatus(t, "guide-status.conf"))
	f.eng.stop()
	ctx := t.Context()
	_, err := f.client.ShowStatus(ctx, &ctsyncv1.ShowStatusRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "retry") {
		t.Errorf("ShowStatus while stopped: %v, want Unavailable saying to retry", err)
	}
	if _, err := f.client.Restart(ctx, &ctsyncv1.RestartRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Restart while stopped: %v, want Unavailable", err)
	}
	stream, err := f.client.ShowCache(ctx, &ctsyncv1.ShowCacheRequest{Cache: ctsyncv1.Cache_CACHE_INTERNAL})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("ShowCache while stopped: %v, want Unavailable", err)
	}
}

// TestCS_B20_Reload: a valid file is applied and its changes returned; a
// file with errors changes nothing and names file:line:col; a file without
// service conntrack-sync is applied as nil (CS-C01).
func TestCS_B20_Reload(t *testing.T) {
	f := newFixture(t, guideStatus(t, "guide-status.conf"))
	ctx := t.Context()
	f.eng.changes = []string{"expect-sync none -> ftp, sip, h323, nfs, sqlnet"}
	src, err := os.ReadFile(filepath.Join("testdata", "guide-status-expect-all.conf"))
	if err != nil {
		t.Fatal(err)
	}
	f.writeConfig(t, string(src))
	resp, err := f.client.Reload(ctx, &ctsyncv1.ReloadRequest{})
	if err != nil || !resp.Applied || len(f.eng.applied) != 1 || len(f.eng.applied[0].Expect) != 5 {
		t.Fatalf("reload of a valid file: %v, %v (applied %d); want it applied", resp, err, len(f.eng.applied))
	}
	if got := show.Reload(resp); got != f.eng.changes[0]+"\n" {
		t.Errorf("reload prints %q", got)
	}

	f.writeConfig(t, strings.Replace(string(src), "interface eth1", "interface eth1\n        mcast-group 255.0.0.50", 1))
	resp, err = f.client.Reload(ctx, &ctsyncv1.ReloadRequest{})
	if err != nil || resp.Applied || len(f.eng.applied) != 1 {
		t.Fatalf("reload of a broken file: %v, %v; want not applied, the engine untouched", resp, err)
	}
	text := show.Reload(resp)
	if !strings.HasPrefix(text, f.configFile+":11:") || !strings.Contains(text, "mcast-group") || !strings.Contains(text, "not applied") {
		t.Errorf("reload of a broken file prints:\n%s\nwant %s:11:col: ... mcast-group ... and not applied", text, f.configFile)
	}

	notConfigured, err := os.ReadFile(filepath.Join("testdata", "not-configured.conf"))
	if err != nil {
		t.Fatal(err)
	}
	f.writeConfig(t, string(notConfigured))
	if resp, err := f.client.Reload(ctx, &ctsyncv1.ReloadRequest{}); err != nil || !resp.Applied || len(f.eng.applied) != 2 || f.eng.applied[1] != nil {
		t.Errorf("reload without service conntrack-sync: %v, %v; want applied as nil", resp, err)
	}

	os.Remove(f.configFile)
	_, err = f.client.Reload(ctx, &ctsyncv1.ReloadRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("reload of a missing file: %v, want FailedPrecondition, nothing changed", err)
	}
}

// TestCheck: diagnostics carry file:line:col and the node, warnings come
// with errors, and no message repeats the secret, however broken the file.
func TestCheck(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "vrrp-unicast.conf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		src    string
		ok     bool
		want   []string // substrings of the rendering, in order
		secret string   // must not appear
	}{
		{"Valid", string(good), true, nil, ""},
		{"GuideTypo255", strings.Replace(string(good), "peer 10.9.9.2", "mcast-group 255.0.0.50", 1), false,
			[]string{"f.conf:10:", "service conntrack-sync mcast-group", "225.0.0.50"}, ""},
		{"ShortSecretWarns", strings.Replace(string(good), `"a sync secret of 31 characters"`, "hunter2", 1), true,
			[]string{"f.conf:11:", "warning: ", "7 characters"}, "hunter2"},
		{"SecretInABrokenLine", strings.Replace(string(good), `secret "a sync secret of 31 characters"`, "secret s3cr3tval extra-word", 1), false,
			[]string{"f.conf:11:"}, "s3cr3tval"},
		{"FlattenedAsPrinted", "service conntrack-sync failover-mechanism vrrp { sync-group TESTING } interface eth1\n", false,
			[]string{"f.conf:1:"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Check("f.conf", []byte(tt.src))
			if (cfg != nil) != tt.ok {
				t.Fatalf("Check: config %v, want ok %v; diagnostics:\n%s", cfg != nil, tt.ok, show.Diagnostics(diags))
			}
			text := show.Diagnostics(diags)
			rest := text
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("diagnostics lack %q (in order):\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			if tt.secret != "" && strings.Contains(text, tt.secret) {
				t.Errorf("diagnostics show the secret %q:\n%s", tt.secret, text)
			}
			if tt.ok && len(tt.want) == 0 && len(diags) != 0 {
				t.Errorf("valid file: %s", text)
			}
		})
	}
}

// TestValidateRPC: the RPC names the text ctsyncd.conf by default.
func TestValidateRPC(t *testing.T) {
	f := newFixture(t, engine.Status{})
	resp, err := f.client.Validate(t.Context(), &ctsyncv1.ValidateRequest{Text: "service { conntrack-sync { interface } }"})
	if err != nil || len(resp.Diagnostics) == 0 || resp.Diagnostics[0].File != "ctsyncd.conf" {
		t.Errorf("Validate: %v, %v; want errors in ctsyncd.conf", resp, err)
	}
}

// TestStatusJSON: --json carries what the text leaves out (the state as
// an enum, the lag), never the secret.
func TestStatusJSON(t *testing.T) {
	st := guideStatus(t, "vrrp-unicast.conf")
	st.Session.EntriesAtRisk, st.Session.OldestUnacked = 3, 250*time.Millisecond
	f := newFixture(t, st)
	resp, err := f.client.ShowStatus(t.Context(), &ctsyncv1.ShowStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := show.JSON(resp)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Status struct {
			State, SyncAddress string
			Authenticated      bool
			Peer               struct{ Address, BootId string }
			Lag                struct {
				EntriesAtRisk    string
				OldestUnackedAge string
			}
		}
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	s := v.Status
	if s.State != "SYNC_STATE_PRIMARY" || s.SyncAddress != "225.0.0.50:3780" || !s.Authenticated || s.Peer.Address != "10.9.9.2" ||
		s.Peer.BootId != "77aa" || s.Lag.EntriesAtRisk != "3" || s.Lag.OldestUnackedAge != "0.250s" {
		t.Errorf("status JSON: %+v", s)
	}
	if strings.Contains(string(out), "a sync secret") {
		t.Error("the JSON shows the secret")
	}
}
