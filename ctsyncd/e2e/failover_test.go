//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// Sizes of the acceptance test's streams: at 2 MB/s a download lasts 20 s,
// long enough to span R1's death, R2's takeover (Master_Down 3.6 s at the
// guide's 1 s adverts) and TCP's retransmission back-off after it.
const (
	downloadRate = 2 << 20
	downloadSize = 40 << 20
)

// trafficLab is the acceptance test's set-up with R1 master: the server
// and the Internet host serve streams, the routers run vrrpd with the
// guide's sync group.
type trafficLab struct {
	lab              *netlab.Lab
	r1, r2           *router
	internet, server *netlab.Node
}

func newTrafficLab(t *testing.T) *trafficLab {
	t.Helper()
	lab := newLab(t)
	tl := &trafficLab{lab: lab, internet: lab.Node("internet"), server: lab.Node("server"),
		r1: newRouter(t, lab, "r1", 200), r2: newRouter(t, lab, "r2", 100)}
	for _, l := range []struct {
		node *netlab.Node
		addr string
	}{{tl.server, fmt.Sprintf("%s:%d", serverIP, serverPort)}, {tl.internet, internetIP + ":8080"}} {
		ln, err := l.node.ListenTCP(l.addr)
		if err != nil {
			t.Fatal(err)
		}
		go serveStreams(ln)
	}
	return tl
}

// syncWithVRRP starts Examples 4-6/4-7 (R1 the master) and 4-8 on both
// routers and waits until R2's ctsyncd hears R1's.
func (tl *trafficLab) syncWithVRRP(t *testing.T) {
	t.Helper()
	tl.r1.startVrrpd(t)
	tl.r1.waitMaster(t)
	tl.r2.startVrrpd(t)
	tl.r1.startCtsyncd(t, viaVRRP)
	tl.r2.startCtsyncd(t, viaVRRP)
	tl.r2.waitPeer(t)
}

// startStreams opens the three connections of the test through the
// master: a download to the DNATed outside VIP (NATed), one straight to
// the server (not NATed), and an interactive session the server opens to
// the Internet host (SNATed to the outside VIP).
func (tl *trafficLab) startStreams(t *testing.T) []*stream {
	t.Helper()
	return tl.startStreamsOf(t, downloadSize)
}

// startStreamsOf is startStreams with downloads of size bytes.
func (tl *trafficLab) startStreamsOf(t *testing.T, size int) []*stream {
	t.Helper()
	streams := []*stream{
		startDownload(t, tl.internet, "download via DNAT", net.JoinHostPort(outsideVIP, fmt.Sprint(serverPort)), size, downloadRate),
		startDownload(t, tl.internet, "download not NATed", net.JoinHostPort(serverIP, fmt.Sprint(serverPort)), size, downloadRate),
		startSession(t, tl.server, "session via SNAT", internetIP+":8080"),
	}
	waitProgress(t, streams...)
	return streams
}

// TestCS_B11_ControlWithoutSync is the guide's first half of the test
// (6112-6118): without stateful failover R2 takes over the addresses but
// its firewall drops the connections it does not know, so every stream
// stalls. If this test fails, the set-up proves nothing about ctsyncd.
func TestCS_B11_ControlWithoutSync(t *testing.T) {
	tl := newTrafficLab(t)
	tl.r1.startVrrpd(t)
	tl.r1.waitMaster(t)
	tl.r2.startVrrpd(t)
	streams := tl.startStreams(t)

	t.Log("R1 dies mid-transfer")
	tl.r1.crash(t, tl.r1.vrrpd)
	tl.r2.waitMaster(t)
	// After the takeover, TCP retransmits within a few seconds; give it
	// several rounds.
	time.Sleep(2 * time.Second)
	stuck := stalled(10*time.Second, streams...)
	if len(stuck) != len(streams) {
		n, _ := tl.r2.conntrackCount(t.Context())
		t.Fatalf("without sync only %v stalled; every stream should have (R2 has %s conntrack entries): "+
			"the firewall or tcp_loose=0 is not in effect", stuck, n)
	}
	for _, s := range streams {
		s.cancel()
	}
	// The stall is R2's missing state, not its path: a new connection
	// through it flows.
	fresh := startDownload(t, tl.internet, "new download via DNAT", net.JoinHostPort(outsideVIP, fmt.Sprint(serverPort)), 1<<20, downloadRate)
	if err := fresh.finish(patience); err != nil {
		t.Fatalf("a new connection through R2: %v", err)
	}
}

// finishAll waits for every download to complete and checks the session
// still echoes, then stops it.
func finishAll(t *testing.T, streams []*stream) {
	t.Helper()
	for _, s := range streams {
		if s.name == "session via SNAT" {
			waitProgress(t, s)
		}
		if err := s.finish(2 * patience); err != nil {
			t.Errorf("%s: %v (received %d bytes)", s.name, err, s.progress())
		}
	}
}

// TestCS_B11_StreamsSurviveWithVRRP is the guide's second half (6120-6123)
// with vrrpd as the failover mechanism (Example 4-8): R1 dies mid-transfer,
// R2 takes over the VIPs with R1's connection table, and every stream —
// DNATed, routed, SNATed — continues and completes with every byte intact.
func TestCS_B11_StreamsSurviveWithVRRP(t *testing.T) {
	tl := newTrafficLab(t)
	tl.syncWithVRRP(t)
	streams := tl.startStreams(t)
	tl.r2.waitExternal(t, uint64(len(streams)))

	t.Log("R1 dies mid-transfer")
	tl.r1.crash(t, tl.r1.vrrpd, tl.r1.ctsyncd)
	tl.r2.waitMaster(t)
	finishAll(t, streams)
}

// TestCS_B11_StreamsSurviveCleanStop: R1's vrrpd stops cleanly, so R2
// takes over at once (priority 0) while packets are already arriving: the
// takeover gate makes vrrpd wait for the commit before the VIPs come up.
func TestCS_B11_StreamsSurviveCleanStop(t *testing.T) {
	tl := newTrafficLab(t)
	tl.syncWithVRRP(t)
	streams := tl.startStreams(t)
	tl.r2.waitExternal(t, uint64(len(streams)))

	t.Log("R1's vrrpd stops cleanly")
	if err := tl.r1.vrrpd.Stop(patience); err != nil {
		t.Fatalf("vrrpd on r1: %v", err)
	}
	tl.r2.waitMaster(t)
	finishAll(t, streams)
	st, err := tl.r2.syncStatus(t)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetLastCommit().GetEntries() < uint64(len(streams)) {
		t.Errorf("R2 committed %d entries, want at least %d", st.GetLastCommit().GetEntries(), len(streams))
	}
}

// TestCS_B11_StreamsSurviveWithCluster is the same test with clusterd as
// the failover mechanism (Examples 4-4 and 4-5): the cluster IPs are the
// VIPs, and clusterd waits for ctsyncd's commit before adding them.
func TestCS_B11_StreamsSurviveWithCluster(t *testing.T) {
	tl := newTrafficLab(t)
	tl.r1.startClusterd(t)
	tl.r2.startClusterd(t)
	tl.r1.waitMaster(t)
	tl.r1.startCtsyncd(t, viaCluster)
	tl.r2.startCtsyncd(t, viaCluster)
	tl.r2.waitPeer(t)
	streams := tl.startStreams(t)
	tl.r2.waitExternal(t, uint64(len(streams)))

	t.Log("R1 dies mid-transfer")
	tl.r1.crash(t, tl.r1.clusterd, tl.r1.ctsyncd)
	tl.r2.waitMaster(t)
	finishAll(t, streams)
}

// busyTable is the "also with 50k other entries in the table".
const busyTable = 50_000

// TestCS_B11_StreamsSurviveCleanStopBusyTable: the clean stop again, with
// 50k other connections in R1's table. R2 must commit them all before its
// VIPs come up (the takeover gate), while the streams' packets already
// head its way.
func TestCS_B11_StreamsSurviveCleanStopBusyTable(t *testing.T) {
	tl := newTrafficLab(t)
	tl.syncWithVRRP(t)
	fillTable(t, tl.r1.node, busyTable)
	streams := tl.startStreams(t)
	tl.r2.waitExternal(t, uint64(busyTable+len(streams)))

	t.Log("R1's vrrpd stops cleanly")
	if err := tl.r1.vrrpd.Stop(patience); err != nil {
		t.Fatalf("vrrpd on r1: %v", err)
	}
	tl.r2.waitMaster(t)
	finishAll(t, streams)
	st, err := tl.r2.syncStatus(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetLastCommit().GetEntries(); got < uint64(busyTable+len(streams)) {
		t.Errorf("R2 committed %d entries, want at least %d", got, busyTable+len(streams))
	}
	t.Logf("R2 committed %d entries in %v", st.GetLastCommit().GetEntries(), st.GetLastCommit().GetDuration().AsDuration())
}

// TestCS_B11_StreamsSurviveFailback: after R1's death and R2's takeover,
// R1 comes back (cables in, daemons restarted). Its ctsyncd holds a
// demotion until R2's table has arrived, so its vrrpd (priority 200)
// preempts only then, through the takeover gate: the streams survive the
// way back too, and nothing is left half-synced (level-triggered restart,
// issue 5).
func TestCS_B11_StreamsSurviveFailback(t *testing.T) {
	tl := newTrafficLab(t)
	tl.syncWithVRRP(t)
	streams := tl.startStreamsOf(t, 3*downloadSize/2)
	tl.r2.waitExternal(t, uint64(len(streams)))

	t.Log("R1 dies mid-transfer")
	tl.r1.crash(t, tl.r1.vrrpd, tl.r1.ctsyncd)
	tl.r2.waitMaster(t)
	waitProgress(t, streams...)

	t.Log("R1 comes back and preempts once it has R2's table")
	tl.r1.recover(t)
	tl.r1.startVrrpd(t)
	tl.r1.startCtsyncd(t, viaVRRP)
	tl.r1.waitMaster(t)
	waitProgress(t, streams...)
	finishAll(t, streams)
	st, err := tl.r1.syncStatus(t)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetLastCommit().GetEntries() < uint64(len(streams)) {
		t.Errorf("R1 committed %d entries on its way back, want at least %d", st.GetLastCommit().GetEntries(), len(streams))
	}
}
