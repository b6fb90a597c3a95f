package engine

import (
	"context"
	"fmt"
	"iter"
	"net/netip"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// patience bounds every wait for a condition.
const patience = 20 * time.Second

// fakeKernel is a conntrack table in memory. Like the real one it reports
// the entries a commit creates as New events to the listener's sink.
type fakeKernel struct {
	mu       gosync.Mutex
	table    map[ct.Key]ct.Entry
	expects  map[ct.ExpectKey]ct.Expect
	muted    bool // the listener left the new/update groups
	dumpErr  error
	sink     EventSink
	commits  atomic.Int64
	timeouts map[ct.Key]uint32
	gets     int // entries asked for by Get
	// eventsWere is the nf_conntrack_events setting EnableEvents finds
	// ("1" unless a test says otherwise); eventsEnabledBeforeListen: the
	// engine set it before it subscribed.
	eventsWere                string
	eventsEnabledBeforeListen bool
	// commitStarted, when set, is told each commit's entries before they
	// are written (the gate tests look at the order).
	onCommit func(n int)
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{table: map[ct.Key]ct.Entry{}, expects: map[ct.ExpectKey]ct.Expect{}, timeouts: map[ct.Key]uint32{}, eventsWere: "1"}
}

// add creates an entry as traffic would: in the table and as an event.
func (k *fakeKernel) add(e ct.Entry) {
	k.mu.Lock()
	k.table[e.Key()] = e
	sink := k.sink
	k.mu.Unlock()
	if sink != nil {
		sink.Entry(cache.New, &e, ctnl.Acct{})
	}
}

// remove destroys an entry as a timeout would.
func (k *fakeKernel) remove(key ct.Key) {
	k.mu.Lock()
	e, ok := k.table[key]
	delete(k.table, key)
	sink := k.sink
	k.mu.Unlock()
	if ok && sink != nil {
		sink.Entry(cache.Destroy, &e, ctnl.Acct{Bytes: 1000, Packets: 10})
	}
}

func (k *fakeKernel) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.table)
}

func (k *fakeKernel) has(key ct.Key) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.table[key]
	return ok
}

func (k *fakeKernel) Dump(_ context.Context, fn func(*ct.Entry) error) error {
	k.mu.Lock()
	if k.dumpErr != nil {
		defer k.mu.Unlock()
		return k.dumpErr
	}
	entries := make([]ct.Entry, 0, len(k.table))
	for _, e := range k.table {
		entries = append(entries, e)
	}
	k.mu.Unlock()
	for i := range entries {
		if err := fn(&entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// addExpect creates an expectation as a helper would.
func (k *fakeKernel) addExpect(x ct.Expect) {
	k.mu.Lock()
	k.expects[x.Key()] = x
	sink := k.sink
	k.mu.Unlock()
	if sink != nil {
		sink.Expect(cache.New, &x)
	}
}

func (k *fakeKernel) expectLen() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.expects)
}

func (k *fakeKernel) DumpExpect(_ context.Context, fn func(*ct.Expect) error) error {
	k.mu.Lock()
	xs := make([]ct.Expect, 0, len(k.expects))
	for _, x := range k.expects {
		xs = append(xs, x)
	}
	k.mu.Unlock()
	for i := range xs {
		if err := fn(&xs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (k *fakeKernel) Commit(_ context.Context, entries iter.Seq[*ct.Entry]) (ctnl.Result, error) {
	var res ctnl.Result
	var created []ct.Entry
	k.mu.Lock()
	for e := range entries {
		if _, ok := k.table[e.Key()]; ok {
			res.Updated++
		} else {
			res.Created++
			created = append(created, *e)
		}
		k.table[e.Key()] = *e
	}
	sink := k.sink
	if k.muted {
		sink = nil
	}
	k.mu.Unlock()
	k.commits.Add(1)
	if k.onCommit != nil {
		k.onCommit(res.Created + res.Updated)
	}
	for i := range created {
		if sink != nil {
			sink.Entry(cache.New, &created[i], ctnl.Acct{})
		}
	}
	return res, nil
}

func (k *fakeKernel) CommitExpect(_ context.Context, xs iter.Seq[*ct.Expect]) (ctnl.Result, error) {
	var res ctnl.Result
	k.mu.Lock()
	defer k.mu.Unlock()
	for x := range xs {
		k.expects[x.Key()] = *x
		res.Created++
	}
	return res, nil
}

func (k *fakeKernel) SetTimeout(_ context.Context, keys iter.Seq[ct.Key], seconds uint32) (ctnl.Result, error) {
	var res ctnl.Result
	k.mu.Lock()
	defer k.mu.Unlock()
	for key := range keys {
		if _, ok := k.table[key]; ok {
			k.timeouts[key] = seconds
			res.Done++
		} else {
			res.Absent++
		}
	}
	return res, nil
}

func (k *fakeKernel) Get(_ context.Context, keys iter.Seq[ct.Key], fn func(*ct.Entry)) (ctnl.Result, error) {
	var res ctnl.Result
	var found []ct.Entry
	k.mu.Lock()
	for key := range keys {
		if e, ok := k.table[key]; ok {
			found = append(found, e)
			res.Done++
		} else {
			res.Absent++
		}
	}
	k.gets += res.Done + res.Absent
	k.mu.Unlock()
	for i := range found {
		fn(&found[i])
	}
	return res, nil
}

// change alters an entry the way a helper does: without an event.
func (k *fakeKernel) change(key ct.Key, fn func(*ct.Entry)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.table[key]
	fn(&e)
	k.table[key] = e
}

// entry is the kernel's entry of key.
func (k *fakeKernel) entry(key ct.Key) (ct.Entry, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.table[key]
	return e, ok
}

func (k *fakeKernel) Close() error { return nil }

// fakeEvents is the listener: the fake kernel calls the sink directly.
type fakeEvents struct {
	done   chan struct{}
	kernel *fakeKernel
}

func (f *fakeEvents) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-f.done:
	}
	return nil
}

func (f *fakeEvents) Close() error { return nil }

func (f *fakeEvents) Mute(m bool) error {
	f.kernel.mu.Lock()
	f.kernel.muted = m
	f.kernel.mu.Unlock()
	return nil
}

// link joins two nodes' sync sockets; drop makes it lose everything.
type link struct {
	mu   gosync.Mutex
	ends [2]func([]byte, netip.AddrPort)
	drop atomic.Bool
}

type linkEnd struct {
	l    *link
	side int
}

func (s linkEnd) Send(b []byte) error {
	if s.l.drop.Load() {
		return nil
	}
	s.l.mu.Lock()
	peer := s.l.ends[1-s.side]
	s.l.mu.Unlock()
	if peer != nil {
		peer(b, netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 0, byte(s.side + 1)}), 3780))
	}
	return nil
}

func (s linkEnd) Close() error {
	s.l.mu.Lock()
	s.l.ends[s.side] = nil
	s.l.mu.Unlock()
	return nil
}

// fakeGate records demotions and lets the test run the prepare function
// as the producer would.
type fakeGate struct {
	mu      gosync.Mutex
	demoted bool
	prepare bus.PrepareFunc
}

func (g *fakeGate) SetDemoted(d bool, _ string) {
	g.mu.Lock()
	g.demoted = d
	g.mu.Unlock()
}

func (g *fakeGate) isDemoted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.demoted
}

func (g *fakeGate) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// node is one ctsyncd engine with fake OS parts.
type node struct {
	t       *testing.T
	name    string
	e       *Engine
	kernel  *fakeKernel
	updates chan bus.Update
	gate    *fakeGate
	cancel  context.CancelFunc
	cfg     *config.Config
}

func testConfig() *config.Config {
	return &config.Config{
		Enabled: true, Interface: "eth1",
		Mechanism:       config.Mechanism{Kind: config.MechanismVRRP, Group: "TESTING"},
		MulticastGroup:  netip.MustParseAddr("225.0.0.50"),
		Port:            3780,
		EventQueueBytes: 8 << 20, SyncQueueBytes: 1 << 20,
		// Dead is generous: a loaded machine running -race must not
		// declare a healthy peer dead in the middle of a test.
		Keepalive: 100 * time.Millisecond, Dead: 2 * time.Second,
	}
}

// newNode starts an engine on side of l with cfg (testConfig if nil).
func newNode(t *testing.T, name string, l *link, side int, cfg *config.Config) *node {
	t.Helper()
	if cfg == nil {
		cfg = testConfig()
	}
	n := &node{t: t, name: name, kernel: newFakeKernel(), updates: make(chan bus.Update, 1), gate: &fakeGate{}, cfg: cfg}
	n.e = New(Options{Factories: Factories{
		OpenKernel: func(*config.Config) (Kernel, error) { return n.kernel, nil },
		OpenEvents: func(_ *config.Config, sink EventSink) (Events, error) {
			n.kernel.mu.Lock()
			n.kernel.sink = sink
			n.kernel.mu.Unlock()
			return &fakeEvents{done: make(chan struct{}), kernel: n.kernel}, nil
		},
		OpenChannel: func(_ *config.Config, receive func([]byte, netip.AddrPort)) (SyncSocket, error) {
			l.mu.Lock()
			l.ends[side] = receive
			l.mu.Unlock()
			return linkEnd{l: l, side: side}, nil
		},
		Follow: func(context.Context, *config.Config) <-chan bus.Update { return n.updates },
		EnableEvents: func() (string, error) {
			n.kernel.mu.Lock()
			defer n.kernel.mu.Unlock()
			n.kernel.eventsEnabledBeforeListen = n.kernel.sink == nil
			return n.kernel.eventsWere, nil
		},
		NewGate: func(_ *config.Config, prepare bus.PrepareFunc) Gate {
			n.gate.mu.Lock()
			n.gate.prepare = prepare
			n.gate.mu.Unlock()
			return n.gate
		},
		LocalAddrs: func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("192.168.0." + fmt.Sprint(side+1))} },
	}})
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { _ = n.e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-n.e.Done() })
	if _, err := n.e.Apply(ctx, cfg); err != nil {
		t.Fatalf("%s: apply: %v", name, err)
	}
	return n
}

// producer sends the producer's state, replacing an unread one as
// bus.WatchFailover does.
func (n *node) producer(s bus.State) {
	select {
	case <-n.updates:
	default:
	}
	n.updates <- bus.Update{Group: "sync-group/TESTING", State: s, Source: "vrrpd", Reason: "test"}
}

func (n *node) status() Status {
	n.t.Helper()
	st, err := n.e.Status(context.Background())
	if err != nil {
		n.t.Fatalf("%s: status: %v", n.name, err)
	}
	return st
}

func (n *node) waitFor(what string, cond func(Status) bool) {
	n.t.Helper()
	netlab.WaitFor(n.t, patience, func() (bool, string) {
		st := n.status()
		return cond(st), fmt.Sprintf("%s: %s (mode %v, internal %d, external %d, peer alive %v)",
			n.name, what, st.Mode, st.Main.InternalLen, st.Main.ExternalLen, st.Session.PeerAlive)
	})
}

// flow returns the i-th test connection, a NATed TCP one.
func flow(i int) ct.Entry {
	client := netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
	server, vip := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("12.34.56.100")
	return ct.Entry{
		Orig:    ct.Tuple{Src: client, Dst: server, Proto: ct.ProtoTCP, SrcPort: 40000, DstPort: 443},
		Reply:   ct.Tuple{Src: server, Dst: vip, Proto: ct.ProtoTCP, SrcPort: 443, DstPort: uint16(1024 + i)},
		Status:  ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed | ct.StatusSrcNAT | ct.StatusSrcNATDone,
		Timeout: 432000,
		TCP:     ct.TCPInfo{State: ct.TCPEstablished},
	}
}

func flowKey(i int) ct.Key {
	e := flow(i)
	return e.Key()
}
