package ctnl

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// Privileged tests: each runs in namespaces of its own (conntrack tables
// are per network namespace), with ti-mo/conntrack as an independent
// reader and writer of the same kernel table.

const patience = 10 * time.Second

func newNode(t testing.TB) *netlab.Node {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{Nodes: []netlab.NodeSpec{{Name: "r"}}})
	return lab.Node("r")
}

func dialIn(t testing.TB, n *netlab.Node, opts Options) *Conn {
	t.Helper()
	var c *Conn
	if err := n.Do(func() error {
		var err error
		c, err = Dial(opts)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func timoIn(t testing.TB, n *netlab.Node) *conntrack.Conn {
	t.Helper()
	var c *conntrack.Conn
	if err := n.Do(func() error {
		var err error
		c, err = conntrack.Dial(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// listenIn starts a listener in the node, running until the test ends.
func listenIn(t testing.TB, n *netlab.Node, opts ListenerOptions) *Listener {
	t.Helper()
	var l *Listener
	if err := n.Do(func() error {
		var err error
		l, err = Listen(opts)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("listener: %v", err)
			}
		case <-time.After(patience):
			t.Errorf("listener did not stop within %v of its context's end", patience)
		}
		l.Close()
	})
	return l
}

func dumpAll(t testing.TB, c *Conn) map[ct.Key]ct.Entry {
	t.Helper()
	out := map[ct.Key]ct.Entry{}
	if err := c.Dump(context.Background(), func(e *ct.Entry) error {
		out[e.Key()] = *e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func seqOf[T any](s []T) func(func(*T) bool) {
	return func(yield func(*T) bool) {
		for i := range s {
			if !yield(&s[i]) {
				return
			}
		}
	}
}

func keysOf(s []ct.Entry) func(func(ct.Key) bool) {
	return func(yield func(ct.Key) bool) {
		for i := range s {
			if !yield(s[i].Key()) {
				return
			}
		}
	}
}

// fromFlow is ti-mo's view of an entry in ours.
func fromFlow(f *conntrack.Flow) ct.Entry {
	tup := func(t conntrack.Tuple) ct.Tuple {
		return ct.Tuple{Src: t.IP.SourceAddress, Dst: t.IP.DestinationAddress, Proto: t.Proto.Protocol,
			SrcPort: t.Proto.SourcePort, DstPort: t.Proto.DestinationPort,
			ICMPID: t.Proto.ICMPID, ICMPType: t.Proto.ICMPType, ICMPCode: t.Proto.ICMPCode}
	}
	e := ct.Entry{Orig: tup(f.TupleOrig), Reply: tup(f.TupleReply), Status: uint32(f.Status),
		Timeout: f.Timeout, Mark: f.Mark, Zone: f.Zone, Helper: f.Helper.Name}
	if p := f.ProtoInfo.TCP; p != nil {
		e.TCP = ct.TCPInfo{State: p.State, WScaleOrig: p.OriginalWindowScale, WScaleReply: p.ReplyWindowScale,
			FlagsOrig: uint8(p.OriginalFlags >> 8), FlagsReply: uint8(p.ReplyFlags >> 8)}
	}
	if p := f.ProtoInfo.SCTP; p != nil {
		e.SCTP = ct.SCTPInfo{State: p.State, VTagOrig: p.VTagOriginal, VTagReply: p.VTagReply}
	}
	return e
}

func timoDump(t testing.TB, c *conntrack.Conn) map[ct.Key]ct.Entry {
	t.Helper()
	flows, err := c.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[ct.Key]ct.Entry{}
	for i := range flows {
		e := fromFlow(&flows[i])
		out[e.Key()] = e
	}
	return out
}

// sameButTimeout compares a and b except for the timeout, which may
// differ by a few seconds.
func sameButTimeout(a, b ct.Entry, slack uint32) bool {
	if a.Timeout > b.Timeout+slack || b.Timeout > a.Timeout+slack {
		return false
	}
	a.Timeout, b.Timeout = 0, 0
	return a == b
}

// mixedEntries are n entries of every kind a router tracks: TCP
// established and assured, SNATed and DNATed TCP, UDP in a zone with a
// mark, ICMP, SCTP, IPv6 UDP.
func mixedEntries(n int) []ct.Entry {
	out := make([]ct.Entry, 0, n)
	for i := range n {
		e := tcpEntry(i)
		e.Orig.SrcPort = uint16(10000 + i%50000)
		e.Reply.DstPort = e.Orig.SrcPort
		e.Orig.Src = netip.AddrFrom4([4]byte{10, byte(1 + i/50000), byte(i >> 8), byte(i)})
		e.Reply.Dst = e.Orig.Src
		switch i % 8 {
		case 0:
			switch i % 24 {
			case 8: // GRE (PPTP call IDs as ports)
				e.Orig = ct.Tuple{Src: e.Orig.Src, Dst: e.Orig.Dst, Proto: ct.ProtoGRE, SrcPort: uint16(i), DstPort: 7}
				e.Reply = ct.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, Proto: ct.ProtoGRE, SrcPort: 7, DstPort: uint16(i)}
				e.TCP = ct.TCPInfo{}
			case 16: // IGMP: addresses only
				e.Orig = ct.Tuple{Src: e.Orig.Src, Dst: e.Orig.Dst, Proto: 2}
				e.Reply = ct.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, Proto: 2}
				e.TCP = ct.TCPInfo{}
				e.Timeout = 600
			}
		case 1: // SNAT to the router's address, port changed
			e.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone | ct.StatusDstNATDone
			e.Reply.Dst = netip.AddrFrom4([4]byte{198, 51, byte(100 + i/50000), 1})
			e.Reply.DstPort = uint16(60000 - i%50000)
		case 2: // DNAT (port forward)
			e.Status |= ct.StatusDstNAT | ct.StatusSrcNATDone | ct.StatusDstNATDone
			e.Reply.Src = netip.MustParseAddr("10.200.0.5")
			e.Reply.SrcPort = 8080
		case 3: // UDP with mark and zone
			e.Orig.Proto, e.Reply.Proto = ct.ProtoUDP, ct.ProtoUDP
			e.TCP = ct.TCPInfo{}
			e.Mark, e.Zone, e.Timeout = 0x1234, 5, 180
		case 4: // ICMP echo
			e.Orig = ct.Tuple{Src: e.Orig.Src, Dst: e.Orig.Dst, Proto: ct.ProtoICMP, ICMPID: uint16(i), ICMPType: 8}
			e.Reply = ct.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, Proto: ct.ProtoICMP, ICMPID: uint16(i), ICMPType: 0}
			e.TCP = ct.TCPInfo{}
			e.Timeout = 30
		case 5: // SCTP established
			e.Orig.Proto, e.Reply.Proto = ct.ProtoSCTP, ct.ProtoSCTP
			e.TCP = ct.TCPInfo{}
			e.SCTP = ct.SCTPInfo{State: 3, VTagOrig: uint32(i), VTagReply: ^uint32(i)}
		case 6: // IPv6 UDP
			s := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
			d := netip.MustParseAddr("2001:db8:ffff::53")
			e.Orig = ct.Tuple{Src: s, Dst: d, Proto: ct.ProtoUDP, SrcPort: e.Orig.SrcPort, DstPort: 53}
			e.Reply = ct.Tuple{Src: d, Dst: s, Proto: ct.ProtoUDP, SrcPort: 53, DstPort: e.Orig.SrcPort}
			e.TCP = ct.TCPInfo{}
			e.Timeout = 120
		case 7: // TCP closing
			e.TCP.State = ct.TCPTimeWait
			e.Timeout = 120
		}
		out = append(out, e)
	}
	return out
}

// readBackView is what the kernel shows of a committed entry: the status
// with IPS_CONFIRMED, the NAT bits the NAT setup sets again, and only the
// TCP flags a commit writes.
func readBackView(e ct.Entry) ct.Entry {
	e.Status |= ct.StatusConfirmed
	if e.Status&(ct.StatusSrcNAT|ct.StatusDstNAT) != 0 {
		e.Status |= ct.StatusSrcNATDone | ct.StatusDstNATDone
	}
	e.TCP.FlagsOrig &= TCPFlagsMask
	e.TCP.FlagsReply &= TCPFlagsMask
	return e
}

// TestCommitReadBack (CS-B11, CS-B03, CS-B14): 10k entries committed into
// a fresh namespace read back equal through our dump and through ti-mo's.
func TestCommitReadBack(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	entries := mixedEntries(10000)
	r, err := c.Commit(context.Background(), seqOf(entries))
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != len(entries) || r.Failed != 0 || r.Updated != 0 {
		t.Fatalf("commit: %+v", r)
	}
	t.Logf("10k entries in %d sendmsg calls", r.Batches)

	ours := dumpAll(t, c)
	theirs := timoDump(t, timoIn(t, n))
	if len(ours) != len(entries) || len(theirs) != len(entries) {
		t.Fatalf("dump holds %d entries (ti-mo: %d), want %d", len(ours), len(theirs), len(entries))
	}
	bad := 0
	for _, e := range entries {
		want := readBackView(e)
		got, ok := ours[e.Key()]
		if !ok || !sameButTimeout(got, want, 5) {
			if bad++; bad <= 5 {
				t.Errorf("entry read back\n  %+v\nwant\n  %+v", got, want)
			}
		}
		if tm, ok := theirs[e.Key()]; !ok || !sameButTimeout(tm, got, 1) {
			if bad++; bad <= 5 {
				t.Errorf("ti-mo reads\n  %+v\nwe read\n  %+v", tm, got)
			}
		}
	}
}

// TestTiMoCreatedReadByUs: entries ti-mo creates decode, through our dump
// and our events, to what ti-mo itself reads back.
func TestTiMoCreatedReadByUs(t *testing.T) {
	n := newNode(t)
	var mu sync.Mutex
	events := map[ct.Key]ct.Entry{}
	listenIn(t, n, ListenerOptions{RcvBuf: 1 << 20, OnEntry: func(k EventKind, e *ct.Entry, _ Acct) {
		if k == EventNew {
			mu.Lock()
			events[e.Key()] = *e
			mu.Unlock()
		}
	}})
	tm := timoIn(t, n)
	const count = 200
	for i := range count {
		src := netip.AddrFrom4([4]byte{10, 3, byte(i >> 8), byte(i)})
		dst := netip.MustParseAddr("192.0.2.7")
		f := conntrack.NewFlow(ct.ProtoTCP, conntrack.StatusConfirmed|conntrack.StatusAssured|conntrack.StatusSeenReply,
			src, dst, uint16(2000+i), 443, 3600, uint32(i))
		f.Zone = uint16(i % 3)
		f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: ct.TCPEstablished, OriginalWindowScale: 7, ReplyWindowScale: 8,
			OriginalFlags: 0x0303, ReplyFlags: 0x0101}
		if err := tm.Create(f); err != nil {
			t.Fatalf("ti-mo create: %v", err)
		}
	}
	theirs := timoDump(t, tm)
	ours := dumpAll(t, dialIn(t, n, Options{}))
	if len(ours) != count || len(theirs) != count {
		t.Fatalf("we dump %d, ti-mo %d, want %d", len(ours), len(theirs), count)
	}
	for k, want := range theirs {
		if got := ours[k]; !sameButTimeout(got, want, 1) {
			t.Errorf("we read\n  %+v\nti-mo reads\n  %+v", got, want)
		}
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == count, fmt.Sprintf("%d of %d new events", len(events), count)
	})
	mu.Lock()
	defer mu.Unlock()
	for k, want := range theirs {
		got := events[k]
		// Events of a ctnetlink create carry no protocol info flags the
		// way a dump does; compare the identity and the state.
		if got.Orig != want.Orig || got.Reply != want.Reply || got.Mark != want.Mark || got.Zone != want.Zone {
			t.Errorf("event\n  %+v\nti-mo reads\n  %+v", got, want)
		}
	}
}

// TestCommitUpdatesExisting (CS-B11): a commit into a table that holds
// some of the entries creates the others and updates those, NAT included.
func TestCommitUpdatesExisting(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	entries := mixedEntries(2000)
	if r, err := c.Commit(context.Background(), seqOf(entries[:1000])); err != nil || r.Created != 1000 {
		t.Fatalf("first commit: %+v, %v", r, err)
	}
	for i := range entries[:1000] {
		entries[i].Mark = 0xbeef
		entries[i].Timeout = 999
	}
	r, err := c.Commit(context.Background(), seqOf(entries))
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 1000 || r.Updated != 1000 || r.Failed != 0 {
		t.Fatalf("second commit: %+v", r)
	}
	got := dumpAll(t, c)
	for _, e := range entries {
		if g := got[e.Key()]; !sameButTimeout(g, readBackView(e), 5) {
			t.Errorf("read back\n  %+v\nwant\n  %+v", g, readBackView(e))
			break
		}
	}
}

// TestCommitReportsFailures: the kernel's refusal of single entries in a
// batch is matched to them by sequence number; the rest is committed.
func TestCommitReportsFailures(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{BatchMessages: 64})
	entries := mixedEntries(300)
	var badKeys []ct.Key
	for i := 10; i < len(entries); i += 97 {
		entries[i].Orig.Proto, entries[i].Reply.Proto = ct.ProtoTCP, ct.ProtoTCP
		entries[i].TCP.State = 200 // beyond TCP_CONNTRACK_MAX: ERANGE (EINVAL before 6.x)
		badKeys = append(badKeys, entries[i].Key())
	}
	r, err := c.Commit(context.Background(), seqOf(entries))
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != len(badKeys) || r.Created != len(entries)-len(badKeys) {
		t.Fatalf("commit: %+v, want %d failed", r, len(badKeys))
	}
	for i, err := range r.Errors {
		ke, ok := err.(*KernelError)
		if !ok || ke.Key != badKeys[i] || (ke.Errno != syscall.ERANGE && ke.Errno != syscall.EINVAL) || ke.Op != "create" {
			t.Errorf("error %d: %v, want ERANGE or EINVAL for %v", i, err, badKeys[i])
		}
	}
	t.Logf("first error: %v", r.Errors[0])
	if got := len(dumpAll(t, c)); got != r.Created {
		t.Errorf("table holds %d, want %d", got, r.Created)
	}
}

// TestDeleteAndSetTimeout (CS-B13): timeouts shortened in batches, entries
// deleted in batches, absent ones counted apart.
func TestDeleteAndSetTimeout(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	entries := mixedEntries(600)
	if r, err := c.Commit(context.Background(), seqOf(entries[:500])); err != nil || r.Created != 500 {
		t.Fatalf("commit: %+v, %v", r, err)
	}
	r, err := c.SetTimeout(context.Background(), keysOf(entries[:300]), 7)
	if err != nil || r.Done != 300 || r.Failed != 0 {
		t.Fatalf("set timeout: %+v, %v", r, err)
	}
	got := dumpAll(t, c)
	for _, e := range entries[:300] {
		if g := got[e.Key()]; g.Timeout > 7 {
			t.Fatalf("timeout %d after SetTimeout(7): %+v", g.Timeout, g)
		}
	}
	if g := got[entries[400].Key()]; g.Timeout < 20 {
		t.Errorf("untouched entry's timeout %d", g.Timeout)
	}
	r, err = c.Delete(context.Background(), keysOf(entries))
	if err != nil || r.Done != 500 || r.Absent != 100 || r.Failed != 0 {
		t.Fatalf("delete: %+v, %v", r, err)
	}
	if n := len(dumpAll(t, c)); n != 0 {
		t.Errorf("%d entries left", n)
	}
}

// TestListenerEvents (CS-B05): new, update and destroy events arrive
// decoded, in order, for entries ti-mo creates, changes and deletes.
func TestListenerEvents(t *testing.T) {
	n := newNode(t)
	type ev struct {
		kind EventKind
		e    ct.Entry
	}
	var mu sync.Mutex
	var got []ev
	listenIn(t, n, ListenerOptions{RcvBuf: 1 << 20, OnEntry: func(k EventKind, e *ct.Entry, _ Acct) {
		mu.Lock()
		got = append(got, ev{k, *e})
		mu.Unlock()
	}})
	tm := timoIn(t, n)
	f := conntrack.NewFlow(ct.ProtoUDP, conntrack.StatusConfirmed, netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("10.0.0.2"), 5000, 53, 100, 1)
	if err := tm.Create(f); err != nil {
		t.Fatal(err)
	}
	f.Mark = 2
	if err := tm.Update(f); err != nil {
		t.Fatal(err)
	}
	if err := tm.Delete(f); err != nil {
		t.Fatal(err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3, fmt.Sprintf("%d events", len(got))
	})
	mu.Lock()
	defer mu.Unlock()
	want := fromFlow(&f)
	for i, kind := range []EventKind{EventNew, EventUpdate, EventDestroy} {
		g := got[i]
		if g.kind != kind || g.e.Orig != want.Orig || g.e.Reply != want.Reply {
			t.Errorf("event %d: %v %+v, want %v of %+v", i, g.kind, g.e, kind, want)
		}
	}
	if got[1].e.Mark != 2 {
		t.Errorf("update event's mark %d, want 2", got[1].e.Mark)
	}
}

// TestListenerOverrun (CS-B08): a burst into a tiny buffer is counted as
// an overrun and reported, and the socket still delivers later events.
func TestListenerOverrun(t *testing.T) {
	n := newNode(t)
	var mu sync.Mutex
	var overruns int
	seen := map[ct.Key]bool{}
	l := listenIn(t, n, ListenerOptions{RcvBuf: 4096,
		OnEntry: func(k EventKind, e *ct.Entry, _ Acct) {
			mu.Lock()
			seen[e.Key()] = true
			mu.Unlock()
		},
		OnOverrun: func() { mu.Lock(); overruns++; mu.Unlock() },
	})
	c := dialIn(t, n, Options{})
	entries := mixedEntries(20000)
	if r, err := c.Commit(context.Background(), seqOf(entries[:19999])); err != nil || r.Failed != 0 {
		t.Fatalf("commit: %+v, %v", r, err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return overruns > 0, fmt.Sprintf("%d overruns, %d entries seen", overruns, len(seen))
	})
	// Every event lost is followed by an overrun report: an entry
	// created after the burst is either seen or covered by a new report.
	extra := mixedEntries(20010)[19999:]
	found := false
	for i := 0; i < len(extra) && !found; i++ {
		mu.Lock()
		before := overruns
		mu.Unlock()
		if r, err := c.Commit(context.Background(), seqOf(extra[i:i+1])); err != nil || r.Created != 1 {
			t.Fatalf("commit: %+v, %v", r, err)
		}
		err := netlab.Poll(t.Context(), patience, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			found = seen[extra[i].Key()]
			return found || overruns > before, fmt.Sprintf("entry %d neither seen nor reported lost; %+v", i, l.Stats())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("no event arrives after the overrun: %+v", l.Stats())
	}
	st := l.Stats()
	if st.Overruns == 0 || st.Events == 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("stats after a 20k burst into %d octets: %+v", st.RcvBuf, st)
}

// TestListenerStopsOnCancel: Run returns promptly when its context ends,
// with no event ever arriving.
func TestListenerStopsOnCancel(t *testing.T) {
	n := newNode(t)
	var l *Listener
	if err := n.Do(func() error {
		var err error
		l, err = Listen(ListenerOptions{OnEntry: func(EventKind, *ct.Entry, Acct) {}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after cancel")
	}
	// And Close stops a running Run too.
	go func() { done <- l.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run with a live context returned at once: %v", err)
	default:
	}
	l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after Close")
	}
}

// TestKernelStatusBits finds out which status bits a create may carry:
// those ctnetlink refuses (an error) or ignores (not read back) must be
// in StatusRefused, the others must not be.
func TestKernelStatusBits(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	base := ct.StatusConfirmed | ct.StatusSeenReply
	var report []string
	for bit := range 16 {
		e := tcpEntry(bit)
		e.Orig.SrcPort, e.Reply.DstPort = uint16(3000+bit), uint16(3000+bit)
		status := base | 1<<bit
		errno := c.rawCreate(t, &e, status)
		got, kept := dumpAll(t, c)[e.Key()]
		kept = kept && got.Status&(1<<bit) != 0
		answer := "accepted"
		if errno != 0 {
			answer = errno.Error()
		}
		report = append(report, fmt.Sprintf("bit %2d: %s, read back %v", bit, answer, kept))
		refused := StatusRefused&(1<<bit) != 0
		switch {
		case errno != 0 && !refused:
			t.Errorf("bit %d: the kernel answers %v but StatusRefused lacks it", bit, errno)
		case errno == 0 && !kept && !refused:
			t.Errorf("bit %d: the kernel ignores it but StatusRefused lacks it", bit)
		case errno == 0 && kept && refused && 1<<bit != ct.StatusConfirmed:
			t.Errorf("bit %d: the kernel keeps it but StatusRefused has it", bit)
		}
	}
	t.Logf("status bits on create:\n%s", strings.Join(report, "\n"))
	e := tcpEntry(100)
	if errno := c.rawCreate(t, &e, ct.StatusSeenReply); errno != syscall.EBUSY {
		t.Errorf("create without IPS_CONFIRMED: %v, FIELD-NOTES says EBUSY", errno)
	}
	if errno := c.rawCreate(t, &e, CommitStatus(0xffff)); errno != 0 {
		t.Errorf("create with every bit CommitStatus lets through: %v", errno)
	}
}

// rawCreate creates e with exactly status as CTA_STATUS, one request.
func (c *Conn) rawCreate(t *testing.T, e *ct.Entry, status uint32) syscall.Errno {
	t.Helper()
	c.seq++
	b := appendEntry(nil, c.seq, e, ModeCreateExcl, true, status)
	if err := c.s.send(b); err != nil {
		t.Fatal(err)
	}
	var got syscall.Errno
	if err := c.readAnswers(c.seq, c.seq, func(_ uint32, errno syscall.Errno) { got = errno }, nil); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRealNATFlowCommitted (CS-B03, CS-B11): a connection SNATed and
// DNATed by iptables on r, read from r's table, committed into r2's, comes
// back with its NAT: reply tuple and IPS_SRC_NAT|IPS_DST_NAT.
func TestRealNATFlowCommitted(t *testing.T) {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{Nodes: []netlab.NodeSpec{
		{Name: "client", Interfaces: []netlab.Interface{{Name: "eth0", Peer: netlab.Endpoint{Node: "r", Interface: "eth0"}, Addrs: []string{"10.1.0.2/24"}}},
			Routes: []netlab.Route{{Dst: "default", Via: "10.1.0.1"}}},
		{Name: "r", Interfaces: []netlab.Interface{
			{Name: "eth0", Peer: netlab.Endpoint{Node: "client", Interface: "eth0"}, Addrs: []string{"10.1.0.1/24"}},
			{Name: "eth1", Peer: netlab.Endpoint{Node: "server", Interface: "eth0"}, Addrs: []string{"192.0.2.1/24"}},
		}, Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}},
		{Name: "server", Interfaces: []netlab.Interface{{Name: "eth0", Peer: netlab.Endpoint{Node: "r", Interface: "eth1"}, Addrs: []string{"192.0.2.2/24"}}}},
		{Name: "r2"},
	}})
	r, client, server := lab.Node("r"), lab.Node("client"), lab.Node("server")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, rule := range [][]string{
		{"-t", "nat", "-A", "PREROUTING", "-i", "eth0", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "192.0.2.2:7000"},
		{"-t", "nat", "-A", "POSTROUTING", "-o", "eth1", "-p", "tcp", "-j", "SNAT", "--to-source", "192.0.2.1:61000-61010"},
	} {
		if out, err := r.Run(ctx, "iptables", rule...); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	if _, err := server.StartTCPEcho("192.0.2.2:7000"); err != nil {
		t.Fatal(err)
	}
	conn, err := client.DialTCP(ctx, "10.1.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlab.VerifyEcho(ctx, conn, 4096); err != nil {
		t.Fatal(err)
	}
	cr := dialIn(t, r, Options{})
	var flow ct.Entry
	netlab.WaitFor(t, patience, func() (bool, string) {
		for _, e := range dumpAll(t, cr) {
			if e.Orig.Proto == ct.ProtoTCP && e.Orig.DstPort == 8080 && e.Status&ct.StatusAssured != 0 {
				flow = e
				return true, ""
			}
		}
		return false, "no assured NATed TCP entry on r"
	})
	t.Logf("r's entry: %+v", flow)
	if flow.Status&(ct.StatusSrcNAT|ct.StatusDstNAT) != ct.StatusSrcNAT|ct.StatusDstNAT ||
		flow.Reply.Src != netip.MustParseAddr("192.0.2.2") || flow.Reply.Dst != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("r's entry is not SNATed and DNATed: %+v", flow)
	}
	if tm := timoDump(t, timoIn(t, r))[flow.Key()]; !sameButTimeout(tm, flow, 1) {
		t.Errorf("ti-mo reads r's entry as\n  %+v", tm)
	}

	c2 := dialIn(t, lab.Node("r2"), Options{})
	if res, err := c2.Commit(ctx, seqOf([]ct.Entry{flow})); err != nil || res.Created != 1 {
		t.Fatalf("commit into r2: %+v, %v", res, err)
	}
	got := dumpAll(t, c2)[flow.Key()]
	if !sameButTimeout(got, readBackView(flow), 5) {
		t.Errorf("r2 reads back\n  %+v\nwant\n  %+v", got, readBackView(flow))
	}
	// Committing again is an update that leaves the NAT binding alone.
	if res, err := c2.Commit(ctx, seqOf([]ct.Entry{flow})); err != nil || res.Updated != 1 {
		t.Fatalf("second commit into r2: %+v, %v", res, err)
	}
	if got := dumpAll(t, c2)[flow.Key()]; got.Reply != flow.Reply {
		t.Errorf("after the update r2 reads reply %+v", got.Reply)
	}
}

// TestExpectations (CS-B02): an expectation committed under an FTP master
// is dumped, announced and deleted.
func TestExpectations(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	var mu sync.Mutex
	var events []EventKind
	listenIn(t, n, ListenerOptions{RcvBuf: 1 << 20, OnExpect: func(k EventKind, x *ct.Expect) {
		mu.Lock()
		events = append(events, k)
		mu.Unlock()
	}})
	master := tcpEntry(1)
	master.Orig.DstPort, master.Reply.SrcPort = 21, 21
	master.Helper = "ftp"
	if r, err := c.Commit(context.Background(), seqOf([]ct.Entry{master})); err != nil || r.Created != 1 {
		t.Fatalf("commit master: %+v, %v", r, err)
	}
	if got := dumpAll(t, c)[master.Key()]; got.Helper != "ftp" {
		t.Fatalf("master's helper %q", got.Helper)
	}
	x := ct.Expect{
		Master:  master.Orig,
		Tuple:   ct.Tuple{Src: master.Orig.Src, Dst: master.Orig.Dst, Proto: ct.ProtoTCP, DstPort: 50000},
		Mask:    ct.Tuple{Src: netip.MustParseAddr("255.255.255.255"), Dst: netip.MustParseAddr("255.255.255.255"), Proto: ct.ProtoTCP, DstPort: 0xffff},
		Timeout: 300, Helper: "ftp", Fn: "nat-follow-master",
	}
	r, err := c.CommitExpect(context.Background(), seqOf([]ct.Expect{x}))
	if err != nil || r.Created != 1 {
		t.Fatalf("commit expectation: %+v, %v", r, err)
	}
	var got []ct.Expect
	if err := c.DumpExpect(context.Background(), func(x *ct.Expect) error { got = append(got, *x); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Master != x.Master || got[0].Tuple != x.Tuple || got[0].Helper != "ftp" || got[0].Timeout > 300 ||
		got[0].Fn != x.Fn {
		t.Fatalf("expectations dumped: %+v", got)
	}
	t.Logf("dumped: %+v", got[0])
	tx, err := timoIn(t, n).DumpExpect()
	if err != nil || len(tx) != 1 || tx[0].HelpName != "ftp" || tx[0].Tuple.Proto.DestinationPort != 50000 {
		t.Errorf("ti-mo dumps %+v, %v", tx, err)
	}
	if r, err := c.CommitExpect(context.Background(), seqOf([]ct.Expect{x})); err != nil || r.Updated != 1 {
		t.Errorf("second commit: %+v, %v", r, err)
	}
	k := got[0].Key()
	if r, err := c.DeleteExpect(context.Background(), func(y func(ct.ExpectKey) bool) { y(k) }); err != nil || r.Done != 1 {
		t.Fatalf("delete expectation: %+v, %v", r, err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(events, EventNew) && slices.Contains(events, EventDestroy), fmt.Sprintf("events %v", events)
	})
}

// TestSeqAdjCommitted (CS-B03): a NAT sequence adjustment (nf_nat_ftp
// lengthened a reply) is written with the entry, created or updated, and
// the kernel reports it back with IPS_SEQ_ADJUST; without it a new master
// would forward the connection with sequence numbers the endpoints no
// longer agree on.
func TestSeqAdjCommitted(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	e := tcpEntry(1)
	e.Orig.DstPort, e.Reply.SrcPort = 21, 21
	e.Helper = "ftp"
	e.Status |= ct.StatusSeqAdjust
	e.SeqAdjReply = ct.SeqAdj{CorrectionPos: 0x10000, OffsetBefore: 0, OffsetAfter: 1}
	// Read back with Get, the way the engine refreshes such entries (the
	// kernel announces no event when a helper changes the adjustment).
	check := func(what string, want ct.Entry) {
		t.Helper()
		var got ct.Entry
		absent := want
		absent.Orig.SrcPort++
		keys := []ct.Key{absent.Key(), want.Key()}
		r, err := c.Get(context.Background(), slices.Values(keys), func(e *ct.Entry) { got = *e })
		if err != nil || r.Done != 1 || r.Absent != 1 {
			t.Fatalf("%s: get: %+v, %v; want one found, one absent", what, r, err)
		}
		if got.SeqAdjOrig != want.SeqAdjOrig || got.SeqAdjReply != want.SeqAdjReply || got.Status&ct.StatusSeqAdjust == 0 {
			t.Errorf("%s: read back status %#x, orig %+v, reply %+v; want IPS_SEQ_ADJUST, %+v, %+v",
				what, got.Status, got.SeqAdjOrig, got.SeqAdjReply, want.SeqAdjOrig, want.SeqAdjReply)
		}
	}
	if r, err := c.Commit(context.Background(), seqOf([]ct.Entry{e})); err != nil || r.Created != 1 {
		t.Fatalf("commit: %+v, %v", r, err)
	}
	check("created", e)
	e.SeqAdjReply = ct.SeqAdj{CorrectionPos: 0x20000, OffsetBefore: 1, OffsetAfter: 2}
	e.SeqAdjOrig = ct.SeqAdj{CorrectionPos: 0x30000, OffsetBefore: 0, OffsetAfter: 0xffffffff}
	if r, err := c.Commit(context.Background(), seqOf([]ct.Entry{e})); err != nil || r.Updated != 1 {
		t.Fatalf("second commit: %+v, %v", r, err)
	}
	check("updated", e)
}

// TestDumpStops: a dump stopped by its context or by its callback leaves
// the socket usable for the next one (the kernel refuses a second dump
// on a socket whose first one is unfinished).
func TestDumpStops(t *testing.T) {
	n := newNode(t)
	c := dialIn(t, n, Options{})
	entries := mixedEntries(20000)
	if r, err := c.Commit(context.Background(), seqOf(entries)); err != nil || r.Created != len(entries) {
		t.Fatalf("commit: %+v, %v", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := c.Dump(ctx, func(*ct.Entry) error {
		if calls++; calls == 10 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled {
		t.Errorf("cancelled dump: %v after %d calls", err, calls)
	}
	stop := fmt.Errorf("enough")
	calls = 0
	if err := c.Dump(context.Background(), func(*ct.Entry) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("dump stopped by its callback: %v after %d calls", err, calls)
	}
	if got := len(dumpAll(t, c)); got != len(entries) {
		t.Errorf("full dump after stopped ones: %d entries, want %d", got, len(entries))
	}
}

// TestListenerMute: a muted listener hears no new entries (a takeover's
// commit), hears destroys, and hears new entries again once unmuted.
func TestListenerMute(t *testing.T) {
	n := newNode(t)
	var news, destroys atomic.Int64
	l := listenIn(t, n, ListenerOptions{RcvBuf: 1 << 20, OnEntry: func(k EventKind, _ *ct.Entry, _ Acct) {
		switch k {
		case EventNew:
			news.Add(1)
		case EventDestroy:
			destroys.Add(1)
		}
	}})
	c := dialIn(t, n, Options{})
	entries := mixedEntries(300)
	if err := l.Mute(true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(t.Context(), seqOf(entries[:100])); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(t.Context(), keysOf(entries[:50])); err != nil {
		t.Fatal(err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		return destroys.Load() == 50, fmt.Sprintf("%d of 50 destroy events while muted", destroys.Load())
	})
	if got := news.Load(); got != 0 {
		t.Errorf("%d new events while muted, want 0", got)
	}
	if err := l.Mute(false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(t.Context(), seqOf(entries[100:300])); err != nil {
		t.Fatal(err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		return news.Load() == 200, fmt.Sprintf("%d of 200 new events after unmuting", news.Load())
	})
}
