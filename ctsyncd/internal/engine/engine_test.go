package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/pkg/bus"
)

// pair is R1 (MASTER) and R2 (BACKUP) joined by a sync link, with n flows
// created on R1 and replicated to R2.
func pair(t *testing.T, n int) (r1, r2 *node, l *link) {
	t.Helper()
	l = &link{}
	r1 = newNode(t, "r1", l, 0, nil)
	r2 = newNode(t, "r2", l, 1, nil)
	r1.producer(bus.StateMaster)
	r2.producer(bus.StateBackup)
	for i := range n {
		r1.kernel.add(flow(i))
	}
	r2.waitFor("the peer's flows in the external cache", func(st Status) bool { return st.Main.ExternalLen == n })
	r1.waitFor("its flows in the internal cache", func(st Status) bool { return st.Main.InternalLen == n })
	return r1, r2, l
}

// TestCS_B05_B06_Replication: R1's connections reach R2's external cache,
// and R2 writes none of them into its kernel while it is BACKUP.
func TestCS_B05_B06_Replication(t *testing.T) {
	r1, r2, _ := pair(t, 500)
	if got := r2.kernel.len(); got != 0 {
		t.Errorf("the BACKUP wrote %d entries into its kernel before any takeover", got)
	}
	r2.waitFor("the peer's address and a digest compared", func(st Status) bool {
		return st.PeerAddress.Addr().String() == "192.168.0.1" && !st.Session.LastDigest.IsZero()
	})
	if st := r2.status(); st.Session.LastDigestBuckets != 0 {
		t.Errorf("last digest differed in %d buckets; the caches should agree", st.Session.LastDigestBuckets)
	}
	// Destroys replicate too.
	for i := range 100 {
		r1.kernel.remove(flowKey(i))
	}
	r2.waitFor("destroyed flows gone from the external cache", func(st Status) bool { return st.Main.ExternalLen == 400 })
	// CS-O03 "traffic processed": the destroyed connections' counters.
	if st := r1.status(); st.Kernel.Bytes != 100*1000 || st.Kernel.Packets != 100*10 {
		t.Errorf("traffic processed %d bytes, %d packets; want %d and %d", st.Kernel.Bytes, st.Kernel.Packets, 100*1000, 100*10)
	}
}

// TestCS_B11_GateCommitsBeforeTheAddresses: the producer's prepare (before
// it brings the VIPs up) returns only once R1's connections are in R2's
// kernel; the MASTER that follows does not commit twice, flushes the
// external cache and leaves the internal one holding the connections.
func TestCS_B11_GateCommitsBeforeTheAddresses(t *testing.T) {
	r1, r2, l := pair(t, 300)
	l.drop.Store(true) // R1 dies
	r1.cancel()

	r2.gate.mu.Lock()
	prepare := r2.gate.prepare
	r2.gate.mu.Unlock()
	if err := prepare(context.Background(), bus.PrepareRequest{Group: "sync-group/TESTING", Target: bus.StateMaster}); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if got := r2.kernel.len(); got != 300 {
		t.Fatalf("after the gate answered ready the kernel holds %d of 300 connections", got)
	}
	r2.producer(bus.StateMaster)
	r2.waitFor("PRIMARY with the flows in the internal cache, the external flushed", func(st Status) bool {
		return st.Mode == ModePrimary && st.Main.InternalLen == 300 && st.Main.ExternalLen == 0
	})
	if n := r2.kernel.commits.Load(); n != 1 {
		t.Errorf("%d commits, want 1: the gate's commit must serve the MASTER that follows", n)
	}
	r2.kernel.mu.Lock()
	committed := r2.kernel.table[flowKey(7)]
	r2.kernel.mu.Unlock()
	if committed.TCP.FlagsOrig&ct.TCPFlagBeLiberal == 0 || committed.TCP.FlagsReply&ct.TCPFlagBeLiberal == 0 {
		t.Errorf("committed TCP flags %#x/%#x lack be-liberal: an asymmetric path after the takeover would be dropped",
			committed.TCP.FlagsOrig, committed.TCP.FlagsReply)
	}
	st := r2.status()
	if !st.LastCommit.Gate || st.LastCommit.Entries != 300 || st.LastCommit.Failed != 0 {
		t.Errorf("last commit %+v, want 300 entries through the gate", st.LastCommit)
	}
}

// TestCS_B11_TakeoverWithoutGate: a MASTER with no prepare before it (a
// producer without gates) commits on the transition.
func TestCS_B11_TakeoverWithoutGate(t *testing.T) {
	_, r2, l := pair(t, 200)
	l.drop.Store(true)
	r2.producer(bus.StateMaster)
	r2.waitFor("PRIMARY holding the flows", func(st Status) bool {
		return st.Mode == ModePrimary && st.Main.InternalLen == 200
	})
	if got := r2.kernel.len(); got != 200 {
		t.Errorf("kernel holds %d of 200 connections after the takeover", got)
	}
}

// TestCS_B13_FaultShortensTimeouts: a PRIMARY going FAULT gives its
// entries a short timeout instead of flushing them.
func TestCS_B13_FaultShortensTimeouts(t *testing.T) {
	r1, _, _ := pair(t, 50)
	r1.producer(bus.StateFault)
	r1.waitFor("FAULT", func(st Status) bool { return st.Mode == ModeFault })
	r1.kernel.mu.Lock()
	shortened := len(r1.kernel.timeouts)
	kept := len(r1.kernel.table)
	r1.kernel.mu.Unlock()
	if shortened != 50 || kept != 50 {
		t.Errorf("%d entries shortened and %d kept, want 50 and 50", shortened, kept)
	}
}

// TestDemotionUntilThePeersTable: a node starting beside a running peer
// holds a demotion until the peer's table has arrived; one starting alone
// releases it after dead-interval.
func TestDemotionUntilThePeersTable(t *testing.T) {
	l := &link{}
	r1 := newNode(t, "r1", l, 0, nil)
	r1.producer(bus.StateMaster)
	if !r1.gate.isDemoted() {
		t.Fatal("a node starting alone is not demoted at first")
	}
	r1.waitFor("demotion released with no peer", func(st Status) bool { return !st.Demoted })
	for i := range 200 {
		r1.kernel.add(flow(i))
	}
	r2 := newNode(t, "r2", l, 1, nil)
	r2.producer(bus.StateBackup)
	r2.waitFor("demotion released once the peer's table is here", func(st Status) bool {
		return !st.Demoted && st.Main.ExternalLen == 200
	})
	if r2.gate.isDemoted() {
		t.Error("the status says released, the gate is still demoted")
	}
}

// TestCS_B08_OverrunResyncs: after the kernel dropped events, the internal
// cache is rebuilt from a dump and the peer gets what was missed.
func TestCS_B08_OverrunResyncs(t *testing.T) {
	r1, r2, _ := pair(t, 10)
	r1.kernel.mu.Lock()
	for i := 10; i < 60; i++ { // events lost
		e := flow(i)
		r1.kernel.table[e.Key()] = e
	}
	sink := r1.kernel.sink
	r1.kernel.mu.Unlock()
	sink.Overrun()
	r2.waitFor("the missed flows replicated", func(st Status) bool { return st.Main.ExternalLen == 60 })
	if st := r1.status(); st.Kernel.Overruns != 1 || st.Resyncs["overrun"] != 1 {
		t.Errorf("overruns %d, overrun resyncs %d, want 1 and 1", st.Kernel.Overruns, st.Resyncs["overrun"])
	}
}

// TestCS_B18_B19_Resets: resetting R2's external cache refills it from
// R1; resetting R1's internal cache rebuilds it from the kernel.
func TestCS_B18_B19_Resets(t *testing.T) {
	r1, r2, _ := pair(t, 120)
	if err := r2.e.Reset(context.Background(), External); err != nil {
		t.Fatal(err)
	}
	r2.waitFor("external cache refilled", func(st Status) bool { return st.Main.ExternalLen == 120 })
	if err := r1.e.Reset(context.Background(), Internal); err != nil {
		t.Fatal(err)
	}
	r1.waitFor("internal cache rebuilt", func(st Status) bool { return st.Main.InternalLen == 120 })
	if st := r1.status(); st.Resyncs["reset"] != 1 {
		t.Errorf("reset resyncs %d, want 1", st.Resyncs["reset"])
	}
}

// TestCS_B17_Restart: counters start from zero, the caches are refilled
// both ways.
func TestCS_B17_Restart(t *testing.T) {
	r1, r2, _ := pair(t, 80)
	if err := r2.e.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	r2.waitFor("external cache refilled after restart", func(st Status) bool { return st.Main.ExternalLen == 80 })
	if st := r2.status(); st.Resyncs["restart"] != 1 || st.Resyncs["start"] != 0 {
		t.Errorf("resyncs %v after restart, want only the restart's", st.Resyncs)
	}
	_ = r1
}

// TestCS_B04_OwnAddressesIgnored: connections of the node's own
// addresses are not synced (the guide's advice).
func TestCS_B04_OwnAddressesIgnored(t *testing.T) {
	r1, r2, _ := pair(t, 5)
	own := flow(99)
	own.Orig.Src = netip.MustParseAddr("192.168.0.1")
	own.Reply.Dst = own.Orig.Src
	r1.kernel.add(own)
	r1.kernel.add(flow(5))
	r2.waitFor("the routed flow replicated", func(st Status) bool { return st.Main.ExternalLen == 6 })
	snap, err := r2.e.Cache(context.Background(), External, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range snap.Main {
		if e.Key() == own.Key() {
			t.Errorf("the node's own connection %v was synced", e.Orig)
		}
	}
}

// TestNotConfigured: requests that need sync running say what to do.
func TestNotConfigured(t *testing.T) {
	e := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.Run(ctx) }()
	if err := e.Reset(ctx, Internal); err == nil {
		t.Error("reset without configuration succeeded")
	}
	st, err := e.Status(ctx)
	if err != nil || st.Configured {
		t.Errorf("status %+v, %v: want not configured", st, err)
	}
	if _, err := e.Apply(ctx, nil); err != nil {
		t.Errorf("apply nil: %v", err)
	}
	cancel()
	<-e.Done()
	if _, err := e.Status(context.Background()); err != ErrStopped {
		t.Errorf("status after stop: %v, want ErrStopped", err)
	}
	_ = ct.Buckets
}

// TestCS_B02_ExpectationsWithExpectSync: with expect-sync, an FTP
// expectation on R1 reaches R2's external cache and R2's kernel on
// takeover, beside its master connection.
func TestCS_B02_ExpectationsWithExpectSync(t *testing.T) {
	r1, r2, l := masterBackup(t, "ftp")
	master := flow(1)
	r1.kernel.add(master)
	r1.kernel.addExpect(ct.Expect{
		Master: master.Orig,
		Tuple:  ct.Tuple{Src: master.Orig.Dst, Dst: master.Orig.Src, Proto: ct.ProtoTCP, DstPort: 50123},
		// The kernel's mask: the expected tuple's protocol, ports masked.
		Mask:    ct.Tuple{Src: netip.MustParseAddr("255.255.255.255"), Dst: netip.MustParseAddr("255.255.255.255"), Proto: ct.ProtoTCP, DstPort: 0xffff},
		Timeout: 300, Helper: "ftp",
	})
	r2.waitFor("the expectation in the external cache", func(st Status) bool {
		return st.Expect.ExternalLen == 1 && st.Main.ExternalLen == 1
	})
	l.drop.Store(true)
	r2.producer(bus.StateMaster)
	r2.waitFor("PRIMARY", func(st Status) bool { return st.Mode == ModePrimary })
	if got := r2.kernel.expectLen(); got != 1 {
		t.Errorf("R2's kernel holds %d expectations after the takeover, want 1", got)
	}
}

// TestCS_B20_ReloadFilter: a reload narrowing accept-protocol removes the
// entries it no longer accepts, here and at the peer.
func TestCS_B20_ReloadFilter(t *testing.T) {
	r1, r2, _ := pair(t, 20)
	udp := flow(100)
	udp.Orig.Proto, udp.Reply.Proto, udp.TCP = ct.ProtoUDP, ct.ProtoUDP, ct.TCPInfo{}
	r1.kernel.add(udp)
	r2.waitFor("21 entries", func(st Status) bool { return st.Main.ExternalLen == 21 })
	c := testConfig()
	c.Protocols = config.ProtoList{ct.ProtoTCP}
	changes, err := r1.e.Apply(context.Background(), c)
	if err != nil || len(changes) == 0 {
		t.Fatalf("apply: %v, %v", changes, err)
	}
	r2.waitFor("the UDP entry deleted at the peer", func(st Status) bool { return st.Main.ExternalLen == 20 })
	if st := r1.status(); st.Main.InternalLen != 20 {
		t.Errorf("internal cache holds %d, want 20", st.Main.InternalLen)
	}
	if !r1.kernel.has(udp.Key()) {
		t.Error("the kernel lost the entry the filter dropped (CS-B20: reload never flushes the kernel)")
	}
	// Widening again brings the kernel's UDP connection back: it is only
	// in the kernel table, so the reload must read it there.
	if _, err := r1.e.Apply(context.Background(), testConfig()); err != nil {
		t.Fatal(err)
	}
	r2.waitFor("the UDP entry back at the peer", func(st Status) bool { return st.Main.ExternalLen == 21 })
}

// An entry the sync protocol cannot carry stays out of the internal cache
// and is counted; it never blocks the entries after it.
func TestUncarriableEntrySkipped(t *testing.T) {
	r1, r2, _ := pair(t, 3)
	bad := flow(50)
	bad.Reply.Src = netip.MustParseAddr("2001:db8::7") // mixed families
	r1.kernel.add(bad)
	r1.kernel.add(flow(51))
	r2.waitFor("the good entry after the bad one", func(st Status) bool { return st.Main.ExternalLen == 4 })
	if st := r1.status(); st.Kernel.Unsyncable != 1 || st.Main.InternalLen != 4 {
		t.Errorf("unsyncable %d, internal %d; want 1 and 4", st.Kernel.Unsyncable, st.Main.InternalLen)
	}
}

// A resync whose dump fails keeps the internal cache as it was: nothing is
// deleted at the peer for want of a complete dump.
func TestFailedDumpDeletesNothing(t *testing.T) {
	r1, r2, _ := pair(t, 40)
	r1.kernel.mu.Lock()
	r1.kernel.dumpErr = errors.New("dump interrupted")
	sink := r1.kernel.sink
	r1.kernel.mu.Unlock()
	sink.Overrun()
	r1.waitFor("the overrun handled", func(st Status) bool { return st.Kernel.Overruns == 1 })
	if st := r1.status(); st.Main.InternalLen != 40 {
		t.Errorf("internal cache holds %d after a failed dump, want 40", st.Main.InternalLen)
	}
	if st := r2.status(); st.Main.ExternalLen != 40 {
		t.Errorf("the peer holds %d after a failed dump here, want 40", st.Main.ExternalLen)
	}
}

// ftpMaster is an FTP control connection SNATed by R1, its helper
// attached: nf_nat_ftp may lengthen its packets.
func ftpMaster() ct.Entry {
	e := flow(7)
	e.Orig.DstPort, e.Reply.SrcPort = 21, 21
	e.Helper = "ftp"
	e.Status |= ct.StatusHelper
	return e
}

// lengthenPASV changes the master as nf_nat_ftp rewriting a PASV reply
// does: a sequence adjustment, and no event.
func lengthenPASV(k *fakeKernel, key ct.Key) ct.SeqAdj {
	adj := ct.SeqAdj{CorrectionPos: 3924290313, OffsetAfter: 1}
	k.change(key, func(e *ct.Entry) {
		e.Status |= ct.StatusSeqAdjust
		e.SeqAdjReply = adj
	})
	return adj
}

// TestCS_B03_SilentSequenceAdjustment: the kernel announces no event when
// a NAT helper sets an entry's sequence adjustment; the engine reads the
// helper-NATed entries again and the new master commits the adjustment,
// or the FTP control connection would stall after the takeover. With
// expect-sync the helper's expectation triggers the read at once (and the
// master's update goes before the expectation); without, the periodic
// read finds it.
func TestCS_B03_SilentSequenceAdjustment(t *testing.T) {
	for _, expectSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("expect-sync=%v", expectSync), func(t *testing.T) {
			var expect []string
			if expectSync {
				expect = []string{"ftp"}
			}
			r1, r2, l := masterBackup(t, expect...)
			master := ftpMaster()
			r1.kernel.add(master)
			r1.kernel.add(flow(8)) // NAT, no helper: never read again
			r2.waitFor("the master in the external cache", func(st Status) bool { return st.Main.ExternalLen == 2 })
			before := r1.status().Main.Internal.Updated
			adj := lengthenPASV(r1.kernel, master.Key())
			if expectSync {
				r1.kernel.addExpect(ct.Expect{
					Master:  master.Orig,
					Tuple:   ct.Tuple{Src: master.Orig.Src, Dst: master.Reply.Dst, Proto: ct.ProtoTCP, DstPort: 50123},
					Mask:    ct.Tuple{Src: netip.MustParseAddr("255.255.255.255"), Dst: netip.MustParseAddr("255.255.255.255"), Proto: ct.ProtoTCP, DstPort: 0xffff},
					Timeout: 300, Helper: "ftp", Fn: "nat-follow-master",
				})
				r2.waitFor("the expectation in the external cache", func(st Status) bool { return st.Expect.ExternalLen == 1 })
			} else {
				r1.waitFor("the master read again, changed", func(st Status) bool { return st.Main.Internal.Updated > before })
			}
			r1.waitFor("R2 has every change", func(st Status) bool { return st.Session.EntriesAtRisk == 0 })
			l.drop.Store(true)
			r2.producer(bus.StateMaster)
			r2.waitFor("PRIMARY", func(st Status) bool { return st.Mode == ModePrimary })
			got, ok := r2.kernel.entry(master.Key())
			if !ok || got.SeqAdjReply != adj {
				t.Errorf("R2 committed the master with sequence adjustment %+v (in table: %v), want %+v", got.SeqAdjReply, ok, adj)
			}
			r1.kernel.mu.Lock()
			gets := r1.kernel.gets
			r1.kernel.mu.Unlock()
			if gets == 0 {
				t.Error("R1 never read an entry again")
			}
		})
	}
}

// TestEventsEnabledBeforeListening: the engine sets the events on before
// it subscribes, so no connection falls between the two.
func TestEventsEnabledBeforeListening(t *testing.T) {
	n := newNode(t, "r1", &link{}, 0, nil)
	n.waitFor("started", func(st Status) bool { return st.Configured })
	n.kernel.mu.Lock()
	defer n.kernel.mu.Unlock()
	if !n.kernel.eventsEnabledBeforeListen {
		t.Error("the engine subscribed to the events before it set nf_conntrack_events")
	}
}

// masterBackup is R1 MASTER and R2 BACKUP over one link, both with
// expect-sync for the helpers given (none: off).
func masterBackup(t *testing.T, expect ...string) (r1, r2 *node, l *link) {
	cfg := func() *config.Config {
		c := testConfig()
		c.Expect = expect
		return c
	}
	l = &link{}
	r1 = newNode(t, "r1", l, 0, cfg())
	r2 = newNode(t, "r2", l, 1, cfg())
	r1.producer(bus.StateMaster)
	r2.producer(bus.StateBackup)
	return r1, r2, l
}
