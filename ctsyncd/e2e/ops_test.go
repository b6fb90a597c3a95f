//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// The operations tests (issue 5 "Tests"): filters, loss on the sync link,
// restarts, garbage and reload. Where the guide's VRRP timing is not the
// point they run vrrpd at 100 ms: ctsyncd only needs the sync group's
// state, R1 PRIMARY and R2 BACKUP.

// convergence bounds a wait for R2's external cache to match R1's
// internal one after loss, a restart or a reload: resends and resyncs
// take rounds of the protocol's timers.
const convergence = 60 * time.Second

// fastVrrpConfig is vrrpConfig's two groups in sync group TESTING at
// VRRPv3's 100 ms adverts.
func fastVrrpConfig(priority int) string {
	group := func(ifname string, id int, vip string) string {
		return fmt.Sprintf("\tethernet %s {\n\t\tvrrp {\n\t\t\tvrrp-group %d {\n\t\t\t\tversion 3\n"+
			"\t\t\t\tadvertise-interval 0.1\n\t\t\t\tpriority %d\n\t\t\t\tsync-group TESTING\n"+
			"\t\t\t\tvirtual-address %s\n\t\t\t}\n\t\t}\n\t}\n", ifname, id, priority, vip)
	}
	return "interfaces {\n" + group("eth0", 1, outsideVIP) + group("eth2", 2, insideVIP) + "}\n"
}

// syncConfig is Example 4-8 with extra statements (one a line, in
// conntrack-sync's block, e.g. "accept-protocol tcp").
func syncConfig(extra ...string) string {
	var b strings.Builder
	b.WriteString("service {\n\tconntrack-sync {\n")
	for _, line := range extra {
		b.WriteString("\t\t" + line + "\n")
	}
	b.WriteString("\t\tfailover-mechanism {\n\t\t\t" + viaVRRP + "\n\t\t}\n\t\tinterface eth1\n\t}\n}\n")
	return b.String()
}

// writeSyncConfig replaces the router's ctsyncd.conf.
func (r *router) writeSyncConfig(t *testing.T, conf string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "ctsyncd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCtsyncd (re)starts ctsyncd on the router with its ctsyncd.conf as it is.
func (r *router) runCtsyncd(t *testing.T) {
	t.Helper()
	var err error
	r.ctsyncd, err = r.node.Start(t.Context(), hasuiteBinary(t, "ctsyncd"), append(r.ctsyncdGlobals(), "--log-level", "debug", "run")...)
	if err != nil {
		t.Fatalf("start ctsyncd on %s: %v", r.node.Name(), err)
	}
}

// opsLab is two routers with R1 master of sync group TESTING and R2 its
// backup, ctsyncd running on both and R2 synced once.
type opsLab struct {
	lab    *netlab.Lab
	r1, r2 *router
}

// newOpsLab starts it with conf as both routers' ctsyncd configuration.
func newOpsLab(t *testing.T, conf string, extra ...netlab.NodeSpec) *opsLab {
	t.Helper()
	o := startOpsLab(t, conf, conf, extra...)
	o.r1.waitPeer(t)
	o.r2.waitSynced(t)
	return o
}

// startOpsLab starts vrrpd, then ctsyncd with conf1 on R1 and conf2 on
// R2, without waiting for them to sync.
func startOpsLab(t *testing.T, conf1, conf2 string, extra ...netlab.NodeSpec) *opsLab {
	t.Helper()
	lab := newLab(t, extra...)
	o := &opsLab{lab: lab, r1: newRouter(t, lab, "r1", 200), r2: newRouter(t, lab, "r2", 100)}
	for _, r := range []struct {
		r        *router
		priority int
	}{{o.r1, 200}, {o.r2, 100}} {
		if err := os.WriteFile(filepath.Join(r.r.dir, "vrrpd.conf"), []byte(fastVrrpConfig(r.priority)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o.r1.startVrrpd(t)
	o.r1.waitMaster(t)
	o.r2.startVrrpd(t)
	o.r1.writeSyncConfig(t, conf1)
	o.r2.writeSyncConfig(t, conf2)
	o.r1.runCtsyncd(t)
	o.r2.runCtsyncd(t)
	return o
}

// waitSynced waits until the router hears its peer and has received one
// full resync from it.
func (r *router) waitSynced(t *testing.T) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		if r.ctsyncd.Exited() {
			return false, "ctsyncd exited:\n" + r.ctsyncd.Output()
		}
		st, err := r.syncStatus(t)
		if err != nil {
			return false, err.Error()
		}
		return st.GetPeer().GetAlive() && st.GetSyncedOnce(), r.node.Name() + "'s ctsyncd has not synced with its peer"
	})
}

// cacheRows are the rows of `show conntrack-sync CACHE main` (CACHE is
// internal-cache or external-cache), fields joined by one space, sorted.
func (r *router) cacheRows(t *testing.T, cache string) ([]string, error) {
	out, err := r.cli(t.Context(), t, "show", "conntrack-sync", cache, "main")
	if err != nil {
		return nil, fmt.Errorf("%s: show conntrack-sync %s main: %v: %s", r.node.Name(), cache, err, out)
	}
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "Source" {
			continue
		}
		rows = append(rows, strings.Join(f, " "))
	}
	slices.Sort(rows)
	return rows, nil
}

// rowDiff describes how got differs from want, a few rows of each side.
func rowDiff(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, found := slices.BinarySearch(want, g); !found {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("%d rows, want %d: %d missing (first %q), %d extra (first %q)",
		len(got), len(want), len(missing), missing[:min(3, len(missing))], len(extra), extra[:min(3, len(extra))])
}

// waitSameCaches waits until R2's external cache holds exactly R1's
// internal cache, and returns it.
func (o *opsLab) waitSameCaches(t *testing.T, timeout time.Duration) []string {
	t.Helper()
	var rows []string
	netlab.WaitFor(t, timeout, func() (bool, string) {
		for _, r := range []*router{o.r1, o.r2} {
			if r.ctsyncd.Exited() {
				return false, r.node.Name() + "'s ctsyncd exited:\n" + r.ctsyncd.Output()
			}
		}
		internal, err := o.r1.cacheRows(t, "internal-cache")
		if err != nil {
			return false, err.Error()
		}
		external, err := o.r2.cacheRows(t, "external-cache")
		if err != nil {
			return false, err.Error()
		}
		rows = internal
		return slices.Equal(internal, external), "R2's external cache: " + rowDiff(external, internal) + " of R1's internal cache"
	})
	return rows
}

// The generated flows: TCP (or UDP) from 10.128.0.0/16 to 10.200.0.1,
// none of them the routers' own addresses, so they pass R1's filter.
var genServer = netip.MustParseAddr("10.200.0.1")

// genFlow fills e with flow i of protocol proto.
func genFlow(e *ct.Entry, proto uint8, i int) {
	client := netip.AddrFrom4([4]byte{10, 128, byte(i >> 14), byte(i >> 6)})
	port := uint16(1024 + i%64)
	*e = ct.Entry{
		Orig:    ct.Tuple{Src: client, Dst: genServer, Proto: proto, SrcPort: port, DstPort: 80},
		Reply:   ct.Tuple{Src: genServer, Dst: client, Proto: proto, SrcPort: 80, DstPort: port},
		Status:  ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed,
		Timeout: 1200, // s: outlives any test
	}
	if proto == ct.ProtoTCP {
		e.TCP = ct.TCPInfo{State: ct.TCPEstablished}
	}
}

// genRow is flow i as a cache listing shows it.
func genRow(proto uint8, i int) string {
	var e ct.Entry
	genFlow(&e, proto, i)
	return fmt.Sprintf("%s :%d %s :%d %s [%d]", e.Orig.Src, e.Orig.SrcPort, e.Orig.Dst, e.Orig.DstPort, ct.ProtoName(proto), proto)
}

func genFlows(proto uint8, from, n int) iter.Seq[*ct.Entry] {
	return func(yield func(*ct.Entry) bool) {
		var e ct.Entry
		for i := from; i < from+n; i++ {
			genFlow(&e, proto, i)
			if !yield(&e) {
				return
			}
		}
	}
}

// table writes flows into a node's conntrack table through ctsyncd's own
// batched committer, the kernel announcing each as a new connection.
type table struct {
	node *netlab.Node
	conn *ctnl.Conn
}

func openTable(t *testing.T, node *netlab.Node) *table {
	t.Helper()
	tb := &table{node: node}
	if err := node.Do(func() error {
		var err error
		tb.conn, err = ctnl.Dial(ctnl.Options{})
		return err
	}); err != nil {
		t.Fatalf("%s: ctnetlink socket: %v", node.Name(), err)
	}
	t.Cleanup(func() { _ = tb.conn.Close() })
	return tb
}

// create adds flows [from, from+n) of proto.
func (tb *table) create(t *testing.T, proto uint8, from, n int) {
	t.Helper()
	r, err := tb.conn.Commit(t.Context(), genFlows(proto, from, n))
	if err == nil && r.Created != n {
		err = fmt.Errorf("%d of %d created (%d updated, %d failed: %v)", r.Created, n, r.Updated, r.Failed, errors.Join(r.Errors...))
	}
	if err != nil {
		t.Fatalf("%s: create %s flows %d..%d: %v", tb.node.Name(), ct.ProtoName(proto), from, from+n-1, err)
	}
}

// remove deletes flows [from, from+n) of proto.
func (tb *table) remove(t *testing.T, proto uint8, from, n int) {
	t.Helper()
	keys := func(yield func(ct.Key) bool) {
		for e := range genFlows(proto, from, n) {
			if !yield(e.Key()) {
				return
			}
		}
	}
	r, err := tb.conn.Delete(t.Context(), keys)
	if err == nil && r.Done != n {
		err = fmt.Errorf("%d of %d deleted (%d absent, %d failed: %v)", r.Done, n, r.Absent, r.Failed, errors.Join(r.Errors...))
	}
	if err != nil {
		t.Fatalf("%s: delete %s flows %d..%d: %v", tb.node.Name(), ct.ProtoName(proto), from, from+n-1, err)
	}
}

// kernelCount is how many entries of proto the node's table holds.
func kernelCount(t *testing.T, node *netlab.Node, args ...string) int {
	t.Helper()
	out, err := node.Run(t.Context(), "conntrack", append([]string{"-L"}, args...)...)
	if err != nil {
		t.Fatalf("%s: conntrack -L %s: %v\n%s", node.Name(), strings.Join(args, " "), err, out)
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "src=") {
			n++
		}
	}
	return n
}

// dialFrom opens a TCP connection from local (empty: any) on node to addr.
func dialFrom(t *testing.T, node *netlab.Node, local, addr string) net.Conn {
	t.Helper()
	var conn net.Conn
	err := node.Do(func() error {
		d := net.Dialer{Timeout: patience}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		var err error
		conn, err = d.DialContext(t.Context(), "tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("%s: connect from %q to %s: %v", node.Name(), local, addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// sendUDP sends each payload in a datagram from local (empty: any) on node
// to addr.
func sendUDP(t *testing.T, node *netlab.Node, local, addr string, payloads ...[]byte) {
	t.Helper()
	err := node.Do(func() error {
		var laddr *net.UDPAddr
		if local != "" {
			laddr = &net.UDPAddr{IP: net.ParseIP(local)}
		}
		raddr, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return err
		}
		conn, err := net.DialUDP("udp4", laddr, raddr)
		if err != nil {
			return err
		}
		defer conn.Close()
		for _, p := range payloads {
			if _, err := conn.Write(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: send UDP to %s: %v", node.Name(), addr, err)
	}
}

// rowsWith are the rows having a field equal to one of fields (an address
// or ":port").
func rowsWith(rows []string, fields ...string) []string {
	var out []string
	for _, row := range rows {
		for _, f := range strings.Fields(row) {
			if slices.Contains(fields, f) {
				out = append(out, row)
				break
			}
		}
	}
	return out
}

// waitRow waits until the router's cache lists row.
func (r *router) waitRow(t *testing.T, cache, row string) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		rows, err := r.cacheRows(t, cache)
		if err != nil {
			return false, err.Error()
		}
		_, found := slices.BinarySearch(rows, row)
		return found, fmt.Sprintf("%s's %s has no %q among its %d rows", r.node.Name(), cache, row, len(rows))
	})
}

// tcpRow is the row of a TCP connection dialled from this side.
func tcpRow(conn net.Conn) string {
	src, dst := conn.LocalAddr().(*net.TCPAddr), conn.RemoteAddr().(*net.TCPAddr)
	return fmt.Sprintf("%s :%d %s :%d tcp [6]", src.IP, src.Port, dst.IP, dst.Port)
}

// serveTCP accepts and holds connections on node's addr until the test ends.
func serveTCP(t *testing.T, node *netlab.Node, addr string) {
	t.Helper()
	ln, err := node.ListenTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
}

// requireRunning fails if a router's ctsyncd has exited.
func (o *opsLab) requireRunning(t *testing.T) {
	t.Helper()
	for _, r := range []*router{o.r1, o.r2} {
		if r.ctsyncd.Exited() {
			t.Fatalf("%s's ctsyncd exited:\n%s", r.node.Name(), r.ctsyncd.Output())
		}
	}
}

// TestCS_B04_AcceptProtocol (CS-C02): with accept-protocol tcp, a TCP
// connection through R1 reaches R2's external cache, while a UDP flow and
// a ping through R1, both in R1's kernel table, are in neither of the
// caches.
func TestCS_B04_AcceptProtocol(t *testing.T) {
	o := newOpsLab(t, syncConfig("accept-protocol tcp"))
	internet, server := o.lab.Node("internet"), o.lab.Node("server")
	serveTCP(t, server, fmt.Sprintf("%s:%d", serverIP, serverPort))

	// Not accepted first: updates travel in order, so once the TCP
	// connection made after them is at R2, they would have been too.
	sendUDP(t, server, "", internetIP+":5353", []byte("not synced"))
	if err := server.Ping(t.Context(), internetIP); err != nil {
		t.Fatalf("ping through R1: %v", err)
	}
	conn := dialFrom(t, internet, "", fmt.Sprintf("%s:%d", serverIP, serverPort))
	o.r2.waitRow(t, "external-cache", tcpRow(conn))

	if n := kernelCount(t, o.r1.node, "-p", "udp", "--dport", "5353"); n == 0 {
		t.Fatal("R1's kernel table has no entry of the UDP flow: the test proves nothing")
	}
	if n := kernelCount(t, o.r1.node, "-p", "icmp"); n == 0 {
		t.Fatal("R1's kernel table has no entry of the ping: the test proves nothing")
	}
	for _, c := range []struct {
		r     *router
		cache string
	}{{o.r1, "internal-cache"}, {o.r2, "external-cache"}} {
		rows, err := c.r.cacheRows(t, c.cache)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			if !strings.HasSuffix(row, " tcp [6]") {
				t.Errorf("%s's %s lists %q: only tcp is accepted", c.r.node.Name(), c.cache, row)
			}
		}
	}
}

// TestCS_B04_UnicastChannelNotSynced: with `peer` set on both routers the
// sync datagrams go by unicast between the routers' own addresses on the
// sync link; R1's kernel tracks them, but they are R1's own flows and
// never synced, while a connection through R1 is.
func TestCS_B04_UnicastChannelNotSynced(t *testing.T) {
	o := startOpsLab(t, syncConfig("peer 192.168.0.200"), syncConfig("peer 192.168.0.128"))
	o.r1.waitPeer(t)
	o.r2.waitSynced(t)
	st, err := o.r1.syncStatus(t)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetMulticast() {
		t.Fatalf("R1 syncs by multicast to %s with peer set", st.GetSyncAddress())
	}
	serveTCP(t, o.lab.Node("server"), fmt.Sprintf("%s:%d", serverIP, serverPort))
	conn := dialFrom(t, o.lab.Node("internet"), "", fmt.Sprintf("%s:%d", serverIP, serverPort))
	o.r2.waitRow(t, "external-cache", tcpRow(conn))
	if kernelCount(t, o.r1.node, "-p", "udp", "--dport", "3780") == 0 {
		out, _ := o.r1.node.Run(t.Context(), "conntrack", "-L")
		t.Fatalf("R1's kernel table has no entry of the sync datagrams: the test proves nothing\n%s", out)
	}
	for _, c := range []struct {
		r     *router
		cache string
	}{{o.r1, "internal-cache"}, {o.r2, "external-cache"}, {o.r2, "internal-cache"}, {o.r1, "external-cache"}} {
		rows, err := c.r.cacheRows(t, c.cache)
		if err != nil {
			t.Fatal(err)
		}
		if bad := rowsWith(rows, ":3780", "192.168.0.128", "192.168.0.200"); len(bad) > 0 {
			t.Errorf("%s's %s lists the sync channel: %q", c.r.node.Name(), c.cache, bad)
		}
	}
}

// ignoredAddr is the Internet host's second address, the one R1 ignores.
const ignoredAddr = "12.34.56.7"

// TestCS_B04_IgnoredAndOwnFlows (CS-C07, CS-B04): with ignore-address ipv4
// A, A's connections through R1 — as source or as destination — are not
// synced; nor are the sync channel's own datagrams (225.0.0.50:3780) nor a
// connection of R1's own (R1 to R2's address), though R1's kernel table
// holds them all; a connection of another host through R1 is.
func TestCS_B04_IgnoredAndOwnFlows(t *testing.T) {
	o := newOpsLab(t, syncConfig("ignore-address {", "\tipv4 "+ignoredAddr, "}"))
	internet, server := o.lab.Node("internet"), o.lab.Node("server")
	if out, err := internet.Run(t.Context(), "ip", "addr", "add", ignoredAddr+"/24", "dev", "eth0"); err != nil {
		t.Fatalf("ip addr add: %v\n%s", err, out)
	}
	serveTCP(t, server, fmt.Sprintf("%s:%d", serverIP, serverPort))
	serveTCP(t, o.r2.node, "12.34.56.200:7000")

	dialFrom(t, internet, ignoredAddr, fmt.Sprintf("%s:%d", serverIP, serverPort))
	sendUDP(t, server, "", ignoredAddr+":5353", []byte("not synced"))
	dialFrom(t, o.r1.node, "", "12.34.56.200:7000")
	synced := dialFrom(t, internet, internetIP, fmt.Sprintf("%s:%d", serverIP, serverPort))
	o.r2.waitRow(t, "external-cache", tcpRow(synced))

	for what, args := range map[string][]string{
		"the ignored host's connection":    {"-s", ignoredAddr},
		"the UDP flow to the ignored host": {"-d", ignoredAddr, "-p", "udp"},
		"the sync channel":                 {"-p", "udp", "--dport", "3780"},
		"R1's own connection":              {"-p", "tcp", "--dport", "7000"},
	} {
		if kernelCount(t, o.r1.node, args...) == 0 {
			t.Errorf("R1's kernel table has no entry of %s: the test proves nothing", what)
		}
	}
	for _, c := range []struct {
		r     *router
		cache string
	}{{o.r1, "internal-cache"}, {o.r2, "external-cache"}} {
		rows, err := c.r.cacheRows(t, c.cache)
		if err != nil {
			t.Fatal(err)
		}
		if bad := rowsWith(rows, ignoredAddr, ":3780", ":7000", "225.0.0.50"); len(bad) > 0 {
			t.Errorf("%s's %s lists ignored or own flows: %q", c.r.node.Name(), c.cache, bad)
		}
	}
}

// dropSyncDatagrams makes the router drop a fraction of the sync
// channel's datagrams, in and out, at random.
func (r *router) dropSyncDatagrams(t *testing.T, probability string) {
	t.Helper()
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		args := []string{"-A", chain, "-p", "udp", "--dport", "3780", "-m", "statistic", "--mode", "random",
			"--probability", probability, "-j", "DROP"}
		if out, err := r.node.Run(t.Context(), "iptables", args...); err != nil {
			t.Fatalf("%s: iptables %s: %v\n%s", r.node.Name(), strings.Join(args, " "), err, out)
		}
	}
}

// droppedSyncDatagrams is how many datagrams the router's loss rules dropped.
func (r *router) droppedSyncDatagrams(t *testing.T) string {
	out, _ := r.node.Run(t.Context(), "iptables", "-L", "-v", "-n", "-x")
	var drops []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "statistic") {
			drops = append(drops, strings.Fields(line)[0])
		}
	}
	return strings.Join(drops, "+")
}

// TestCS_B07_FivePercentLoss (CS-B07, CS-B09): with 5 % of the sync
// datagrams lost each way, R1's table of several thousand connections and
// the churn that follows (some closed, others opened) arrive complete and
// exact at R2: its external cache ends identical to R1's internal cache,
// and the replication counters show the resends it took.
func TestCS_B07_FivePercentLoss(t *testing.T) {
	o := newOpsLab(t, syncConfig())
	for _, r := range []*router{o.r1, o.r2} {
		r.dropSyncDatagrams(t, "0.05")
	}
	const total, churn = 5000, 1000
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, total)
	tb.remove(t, ct.ProtoTCP, 0, churn)
	tb.create(t, ct.ProtoTCP, total, churn)
	tb.create(t, ct.ProtoUDP, 0, churn)

	rows := o.waitSameCaches(t, convergence)
	if n := len(rowsWith(rows, genServer.String())); n != total+churn {
		t.Errorf("R1's internal cache holds %d of the %d generated flows", n, total+churn)
	}
	// Churn again once settled: losses now hit single updates, not a
	// resync.
	for i := range 10 {
		tb.remove(t, ct.ProtoTCP, churn+i*100, 100)
		tb.create(t, ct.ProtoTCP, total+churn+i*100, 100)
		time.Sleep(20 * time.Millisecond)
	}
	rows = o.waitSameCaches(t, convergence)
	wantGenerated(t, "after the second churn, R1's internal cache", rows, 2*churn, total+2*churn)
	var moved uint64
	for _, r := range []*router{o.r1, o.r2} {
		st, err := r.syncStatistics(t)
		if err != nil {
			t.Fatal(err)
		}
		rep, sync := st.GetMain().GetReplication(), st.GetMain().GetSync()
		t.Logf("%s: dropped %s datagrams; retransmits %d, nacks sent %d received %d, lost %d, resyncs %d, repairs %d",
			r.node.Name(), r.droppedSyncDatagrams(t), rep.GetRetransmits(), rep.GetNacksSent(), rep.GetNacksReceived(),
			sync.GetLost(), rep.GetResyncs(), rep.GetRepairs())
		moved += rep.GetRetransmits() + rep.GetNacksSent() + sync.GetLost() + rep.GetRepairs()
	}
	if moved == 0 {
		t.Error("no retransmit, nack, loss or repair counted on either router under 5 % loss")
	}
}

// killCtsyncd SIGKILLs the router's ctsyncd and waits for its end.
func (r *router) killCtsyncd(t *testing.T) {
	t.Helper()
	if err := r.ctsyncd.Kill(); err != nil {
		t.Fatalf("kill %s's ctsyncd: %v", r.node.Name(), err)
	}
	select {
	case <-r.ctsyncd.Done():
	case <-time.After(patience):
		t.Fatalf("%s's ctsyncd survived SIGKILL", r.node.Name())
	}
}

// wantGenerated fails unless the generated TCP flows rows list are
// exactly [from, to).
func wantGenerated(t *testing.T, what string, rows []string, from, to int) {
	t.Helper()
	var want []string
	for i := from; i < to; i++ {
		want = append(want, genRow(ct.ProtoTCP, i))
	}
	slices.Sort(want)
	var got []string
	for _, row := range rowsWith(rows, genServer.String()) {
		if strings.HasSuffix(row, " tcp [6]") {
			got = append(got, row)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: %s", what, rowDiff(got, want))
	}
}

// TestCS_B17_Restarts: a ctsyncd killed and started again gets back to
// where it was. R2's refills its external cache from R1; R1's rebuilds
// its internal cache from the kernel, which changed while it was down,
// and R2 follows: connections closed meanwhile are gone at R2 too, those
// opened are there.
func TestCS_B17_Restarts(t *testing.T) {
	o := newOpsLab(t, syncConfig())
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, 3000)
	rows := o.waitSameCaches(t, convergence)
	wantGenerated(t, "R1's internal cache", rows, 0, 3000)

	t.Log("R2's ctsyncd killed and started again")
	o.r2.killCtsyncd(t)
	o.r2.runCtsyncd(t)
	o.r2.waitSynced(t)
	o.waitSameCaches(t, convergence)

	t.Log("R1's ctsyncd killed; 500 connections close and 300 open; R2 finds R1 silent; R1's ctsyncd started again")
	o.r1.killCtsyncd(t)
	tb.remove(t, ct.ProtoTCP, 0, 500)
	tb.create(t, ct.ProtoTCP, 3000, 300)
	// R2 notices R1's silence (dead-interval) and keeps R1's table.
	netlab.WaitFor(t, patience, func() (bool, string) {
		st, err := o.r2.syncStatus(t)
		if err != nil {
			return false, err.Error()
		}
		return !st.GetPeer().GetAlive(), "R2 still hears R1's killed ctsyncd"
	})
	if external, err := o.r2.cacheRows(t, "external-cache"); err != nil {
		t.Fatal(err)
	} else {
		wantGenerated(t, "with R1 silent, R2's external cache", external, 0, 3000)
	}
	o.r1.runCtsyncd(t)
	o.r1.waitSynced(t)
	rows = o.waitSameCaches(t, convergence)
	wantGenerated(t, "R1's internal cache after its restart", rows, 500, 3300)
}

// TestCS_B17_B19_Commands: `reset conntrack-sync external-cache` on R2
// (also spelled the guide's way, `contrack-sync`, CS-O04), `reset
// conntrack-sync internal-cache` on R1 (CS-B18) and `restart
// conntrack-sync` on either router each end with R2's external cache
// equal to R1's internal cache again; a reset says how much it flushed and
// a restart zeroes the counters (CS-O03).
func TestCS_B17_B19_Commands(t *testing.T) {
	o := newOpsLab(t, syncConfig())
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, 2000)
	o.waitSameCaches(t, convergence)

	for _, c := range []struct {
		r    *router
		args []string
		want string // in the command's output
	}{
		{o.r2, []string{"reset", "conntrack-sync", "external-cache", "--json"}, `"flushedEntries": "2000"`},
		{o.r2, []string{"reset", "contrack-sync", "external-cache", "--json"}, `"flushedEntries": "2000"`},
		{o.r1, []string{"reset", "conntrack-sync", "internal-cache", "--json"}, `"flushedEntries": "2000"`},
		{o.r2, []string{"restart", "conntrack-sync"}, ""},
		{o.r1, []string{"restart", "conntrack-sync"}, ""},
		{o.r1, []string{"restart", "contrack-sync"}, ""},
	} {
		before, err := c.r.syncStatistics(t)
		if err != nil {
			t.Fatal(err)
		}
		cmd := c.r.node.Name() + ": " + strings.Join(c.args, " ")
		out, err := c.r.cli(t.Context(), t, c.args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("%s printed %q, want it to contain %q", cmd, out, c.want)
		}
		t.Logf("%s: %s", cmd, strings.Join(strings.Fields(out), " "))
		o.r2.waitSynced(t)
		o.waitSameCaches(t, convergence)
		if c.args[0] == "restart" {
			after, err := c.r.syncStatistics(t)
			if err != nil {
				t.Fatal(err)
			}
			if !after.GetSince().AsTime().After(before.GetSince().AsTime()) {
				t.Errorf("%s: statistics still counted since %v", cmd, after.GetSince().AsTime())
			}
		}
	}
}

// syncSecret is both routers' secret in the garbage test.
const syncSecret = "a sync secret of 31 characters"

// intruder is a host on the sync link that is not a router: whatever it
// sends to the sync group reaches both routers' ctsyncd.
var intruder = netlab.NodeSpec{Name: "intruder",
	Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "sync", Addrs: []string{"192.168.0.66/24"}}},
	Routes:     []netlab.Route{{Dst: "224.0.0.0/4", Dev: "eth0"}}}

// forgedUpdate is an update that would add a connection of 10.99.0.1 to
// R2's external cache, from a "restarted" peer, were it accepted; secret
// seals it, "" leaves it unauthenticated.
func forgedUpdate(t *testing.T, secret string) []byte {
	t.Helper()
	var e ct.Entry
	genFlow(&e, ct.ProtoTCP, 0)
	e.Orig.Src, e.Reply.Dst = netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.1")
	m := &wire.Message{Type: wire.TypeUpdate, Boot: ^uint32(0) - 1, Counter: 1, Seq: 1,
		Records: []wire.Record{{Kind: wire.RecordUpsert, Entry: e}}}
	b, err := wire.NewCodec([]byte(secret)).Marshal(m) // "": unauthenticated
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCS_B21_GarbageAndWrongSecret: with a secret on both routers, a host
// on the sync link sends the group random bytes, a truncated and a
// corrupted message, a well-formed update sealed with another secret and
// one with none. R2 counts every one as malformed, its caches do not
// change (the forged connection is not in them), it keeps its peer and
// never crashes; nor does R1, which receives them too.
func TestCS_B21_GarbageAndWrongSecret(t *testing.T) {
	o := newOpsLab(t, syncConfig(fmt.Sprintf("secret %q", syncSecret)), intruder)
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, 500)
	o.waitSameCaches(t, convergence)
	internalBefore, err := o.r2.cacheRows(t, "internal-cache")
	if err != nil {
		t.Fatal(err)
	}
	externalBefore, err := o.r2.cacheRows(t, "external-cache")
	if err != nil {
		t.Fatal(err)
	}
	before, err := o.r2.syncStatistics(t)
	if err != nil {
		t.Fatal(err)
	}
	statusBefore, err := o.r2.syncStatus(t)
	if err != nil {
		t.Fatal(err)
	}
	peerBefore := statusBefore.GetPeer()

	wrong, unsealed := forgedUpdate(t, "wrong"), forgedUpdate(t, "")
	corrupted := slices.Clone(wrong)
	corrupted[len(corrupted)/2] ^= 0x40
	garbage := [][]byte{wrong, unsealed, wrong[:10], wrong[:len(wrong)-1], corrupted}
	rng := rand.New(rand.NewPCG(21, 21))
	for _, n := range []int{1, 7, 16, 64, 512, 1400} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		garbage = append(garbage, b)
	}
	sendUDP(t, o.lab.Node("intruder"), "", fmt.Sprintf("225.0.0.50:%d", wire.Port), garbage...)

	var malformed uint64
	netlab.WaitFor(t, patience, func() (bool, string) {
		o.requireRunning(t)
		st, err := o.r2.syncStatistics(t)
		if err != nil {
			return false, err.Error()
		}
		malformed = st.GetMain().GetSync().GetMalformed() - before.GetMain().GetSync().GetMalformed()
		return malformed >= uint64(len(garbage)), fmt.Sprintf("R2 counted %d malformed datagrams, want %d", malformed, len(garbage))
	})
	t.Logf("R2 counted %d malformed datagrams of the %d sent", malformed, len(garbage))
	o.requireRunning(t)
	for _, c := range []struct {
		cache string
		want  []string
	}{{"internal-cache", internalBefore}, {"external-cache", externalBefore}} {
		rows, err := o.r2.cacheRows(t, c.cache)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows, c.want) {
			t.Errorf("R2's %s changed: %s", c.cache, rowDiff(rows, c.want))
		}
	}
	// The forged update's boot would read as R1 restarted, were it taken.
	st, err := o.r2.syncStatus(t)
	if err != nil {
		t.Fatal(err)
	}
	if peer := st.GetPeer(); !peer.GetAlive() || peer.GetBootId() != peerBefore.GetBootId() || peer.GetAddress() != "192.168.0.128" {
		t.Errorf("R2's peer: %q boot %q (alive %v), want R1 (192.168.0.128) boot %q alive", peer.GetAddress(), peer.GetBootId(),
			peer.GetAlive(), peerBefore.GetBootId())
	}
	// R1 and R2 still replicate.
	tb.create(t, ct.ProtoTCP, 500, 100)
	o.waitSameCaches(t, convergence)
}

// reload runs `ctsyncd reload` on the router.
func (r *router) reload(t *testing.T) (string, error) {
	t.Helper()
	return r.cli(t.Context(), t, "reload")
}

// protocolsIn are the protocols the rows list, e.g. "tcp [6]".
func protocolsIn(rows []string) []string {
	var protos []string
	for _, row := range rows {
		f := strings.Fields(row)
		if p := strings.Join(f[len(f)-2:], " "); !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	slices.Sort(protos)
	return protos
}

// TestCS_B20_Reload: adding accept-protocol tcp to R1's configuration by
// reload removes R1's UDP connections from its internal cache and from
// R2's external cache, while R1's kernel keeps them; a reload of a file
// with an error names file:line and changes nothing: UDP stays filtered,
// TCP still flows; deleting accept-protocol again brings the UDP
// connections back from R1's kernel table.
func TestCS_B20_Reload(t *testing.T) {
	o := newOpsLab(t, syncConfig())
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, 200)
	tb.create(t, ct.ProtoUDP, 0, 200)
	rows := o.waitSameCaches(t, convergence)
	if got := protocolsIn(rows); !slices.Equal(got, []string{"tcp [6]", "udp [17]"}) {
		t.Fatalf("R1's internal cache lists %v, want tcp and udp", got)
	}

	o.r1.writeSyncConfig(t, syncConfig("accept-protocol tcp"))
	out, err := o.r1.reload(t)
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	t.Logf("reload: %s", strings.Join(strings.Fields(out), " "))
	rows = o.waitSameCaches(t, convergence)
	if got := protocolsIn(rows); !slices.Equal(got, []string{"tcp [6]"}) {
		t.Errorf("after accept-protocol tcp, R1's internal cache lists %v", got)
	}
	wantGenerated(t, "R1's internal cache", rows, 0, 200)
	if n := kernelCount(t, o.r1.node, "-p", "udp", "-d", genServer.String()); n != 200 {
		t.Errorf("R1's kernel table holds %d of the 200 UDP connections: a reload must not touch it", n)
	}

	// Line 3 of the file is the bad one.
	o.r1.writeSyncConfig(t, syncConfig("accept-protocol tcp,bogus"))
	out, err = o.r1.reload(t)
	if err == nil {
		t.Fatalf("a reload of a bad file succeeded:\n%s", out)
	}
	t.Logf("bad reload: %s", strings.Join(strings.Fields(out), " "))
	if want := filepath.Join(o.r1.dir, "ctsyncd.conf") + ":3:"; !strings.Contains(out, want) {
		t.Errorf("a bad reload printed %q, want the place %s", out, want)
	}
	tb.create(t, ct.ProtoUDP, 200, 50)
	tb.create(t, ct.ProtoTCP, 200, 50)
	rows = o.waitSameCaches(t, convergence)
	wantGenerated(t, "after the bad reload, R1's internal cache", rows, 0, 250)
	if got := protocolsIn(rows); !slices.Equal(got, []string{"tcp [6]"}) {
		t.Errorf("after the bad reload, R1's internal cache lists %v: the old filter must stay", got)
	}

	// Widening the filter again brings the UDP connections back: they
	// were in R1's kernel all along, and a failover needs them at R2.
	o.r1.writeSyncConfig(t, syncConfig())
	if out, err := o.r1.reload(t); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	rows = o.waitSameCaches(t, convergence)
	if n := len(rowsWith(rows, genServer.String())); n != 500 {
		t.Errorf("after accept-protocol was deleted, R1's internal cache holds %d of the 500 connections", n)
	}
	o.requireRunning(t)
}

// TestCS_B21_DifferentSecrets: routers configured with different secrets
// reject each other's every datagram as malformed (bad MAC): neither hears
// a peer, and R1's connections never reach R2.
func TestCS_B21_DifferentSecrets(t *testing.T) {
	o := startOpsLab(t, syncConfig(fmt.Sprintf("secret %q", syncSecret)),
		syncConfig(fmt.Sprintf("secret %q", "another secret of 31 characters")))
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, 100)
	netlab.WaitFor(t, patience, func() (bool, string) {
		o.requireRunning(t)
		st, err := o.r2.syncStatistics(t)
		if err != nil {
			return false, err.Error()
		}
		got := st.GetMain().GetSync().GetMalformed()
		return got >= 3, fmt.Sprintf("R2 counted %d malformed datagrams, want R1's first ones", got)
	})
	internal, err := o.r1.cacheRows(t, "internal-cache")
	if err != nil {
		t.Fatal(err)
	}
	wantGenerated(t, "R1's internal cache", internal, 0, 100)
	for _, r := range []*router{o.r1, o.r2} {
		st, err := r.syncStatus(t)
		if err != nil {
			t.Fatal(err)
		}
		if st.GetPeer().GetAlive() || st.GetSyncedOnce() {
			t.Errorf("%s hears a peer with another secret (alive %v, synced once %v)", r.node.Name(),
				st.GetPeer().GetAlive(), st.GetSyncedOnce())
		}
	}
	if external, err := o.r2.cacheRows(t, "external-cache"); err != nil || len(external) > 0 {
		t.Errorf("R2's external cache lists %q (%v), want nothing", external, err)
	}
}
