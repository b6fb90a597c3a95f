package engine

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/netio"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
	"github.com/hasuite/hasuite/pkg/hook"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// patience bounds every real-time wait; nothing should come near it.
const patience = 20 * time.Second

// Timers of the test configuration: the schema's smallest keepalive and
// dead interval, so that a scenario is a few hundred fake-clock steps.
const (
	keepalive = 100 * time.Millisecond
	dead      = time.Second
	monDead   = time.Second
	initDead  = 2 * time.Second
	step      = 20 * time.Millisecond
)

var monitorAddr = netip.MustParseAddr("10.1.0.1")

// spec is what a test configuration varies.
type spec struct {
	secret       string
	autoFailback bool
	monitors     []string
	services     []string
	secondary    string
}

func (s spec) text() string {
	if s.secret == "" {
		s.secret = "a secret long enough to pass"
	}
	if s.secondary == "" {
		s.secondary = "R2"
	}
	if s.monitors == nil {
		s.monitors = []string{monitorAddr.String()}
	}
	if s.services == nil {
		s.services = []string{"10.6.0.100/24/eth2", "web"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster {\n interface eth0\n interface eth1\n pre-shared-secret %q\n", s.secret)
	fmt.Fprintf(&b, " keepalive-interval %d\n dead-interval %d\n monitor-dead-interval %d\n init-dead-interval %d\n",
		keepalive.Milliseconds(), dead.Milliseconds(), monDead.Milliseconds(), initDead.Milliseconds())
	fmt.Fprintf(&b, " group cluster1 {\n  primary R1\n  secondary %s\n  auto-failback %t\n", s.secondary, s.autoFailback)
	for _, m := range s.monitors {
		fmt.Fprintf(&b, "  monitor %s\n", m)
	}
	for _, sv := range s.services {
		fmt.Fprintf(&b, "  service %s\n", sv)
	}
	b.WriteString(" }\n}\n")
	return b.String()
}

func parse(t *testing.T, s spec) *config.Config {
	t.Helper()
	cfg, err := config.Parse("clusterd.conf", []byte(s.text()))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", s.text(), err)
	}
	return cfg
}

// lab is two (or more) nodes on two fake heartbeat segments, eth0 and
// eth1, with one fake clock.
type lab struct {
	t     *testing.T
	clk   *clock.Fake
	links map[string]*netio.FakeLink
	nodes []*node
}

func newLab(t *testing.T) *lab { return newLabAt(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

// newLabAt starts the fake clock at start: time.Now() for tests with a
// bus holder, whose Prepare deadline is read against the real clock.
func newLabAt(t *testing.T, start time.Time) *lab {
	return &lab{t: t, clk: clock.NewFake(start),
		links: map[string]*netio.FakeLink{"eth0": netio.NewFakeLink(), "eth1": netio.NewFakeLink()}}
}

// node is one clusterd: an engine with its fake kernel, scripts, prober
// and bus producer. The kernel, scripts and state survive a restart.
type node struct {
	lab      *lab
	name     string
	host     int
	uid      wire.UID
	kern     *resources.FakeKernel
	scripts  *fakeScripts
	reach    *reachability
	ledger   *resources.Ledger
	initDir  string
	producer *bus.Producer

	eng    *Engine
	cancel context.CancelFunc
	ran    chan error
	conn   *netio.FakeConn
	// sendFails makes every send on its interfaces fail (flakyConn);
	// gateDeadline, if set, is the engine's GateDeadline.
	sendFails    failSet
	gateDeadline time.Duration
}

// failSet is a set of interface names, safe from any goroutine.
type failSet struct {
	mu  sync.Mutex
	set map[string]bool
}

func (f *failSet) put(name string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set == nil {
		f.set = map[string]bool{}
	}
	f.set[name] = fail
}

func (f *failSet) has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set[name]
}

// flakyConn is a FakeConn whose sends fail on the interfaces in fails, as
// when the kernel refuses them (ENOBUFS, a route gone).
type flakyConn struct {
	*netio.FakeConn
	fails *failSet
}

func (c flakyConn) Send(ifname string, payload []byte) error {
	if c.fails.has(ifname) {
		return fmt.Errorf("send heartbeat on %s: no buffer space available", ifname)
	}
	return c.FakeConn.Send(ifname, payload)
}

func (l *lab) node(name string, host int) *node {
	t := l.t
	dir := t.TempDir()
	initDir := filepath.Join(dir, "init.d")
	if err := os.Mkdir(initDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(initDir, "web"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ledger, err := StateLedger(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{lab: l, name: name, host: host, uid: wire.UID{byte(host)}, kern: resources.NewFakeKernel("eth0", "eth1", "eth2"),
		scripts: &fakeScripts{fail: map[string]bool{}}, reach: &reachability{up: map[netip.Addr]bool{monitorAddr: true}},
		ledger: ledger, initDir: initDir}
	l.nodes = append(l.nodes, n)
	return n
}

// start runs the node's engine and applies cfg.
func (n *node) start(cfg *config.Config) {
	t := n.lab.t
	t.Helper()
	var eng *Engine // set before the producer can be served
	n.producer = bus.NewProducer("clusterd", nil, bus.WithNow(n.lab.clk.Now),
		bus.WithDemotionHook(func(group string) { eng.DemotionChanged(group) }))
	base := resources.Options{Kernel: n.kern, Scripts: n.scripts, Ledger: n.ledger, Clock: n.lab.clk,
		InitDir: n.initDir, ResourceDirs: []string{n.initDir}, AnnounceCount: -1}
	opts := Options{
		Clock:    n.lab.clk,
		NodeName: n.name,
		UID:      n.uid,
		OpenConn: func(cfg *config.Config) (netio.Conn, error) {
			c := netio.NewFakeConn(cfg.Interfaces...)
			for i, ifname := range cfg.Interfaces {
				c.Plug(ifname, i+1, netip.AddrFrom4([4]byte{192, 0, byte(2 + i), byte(n.host)}), n.lab.links[ifname])
			}
			n.conn = c // on the loop; the test reads it only between steps
			return flakyConn{c, &n.sendFails}, nil
		},
		NewResources:   GroupResources(base),
		CheckResources: CheckResources(base),
		Cleanup:        LedgerCleanup(n.kern, n.ledger, nil, nil),
		NewMonitor: func(cfg monitor.Config, _ func() []netip.Addr) (Monitor, error) {
			return monitor.New(newFakeProber(n.reach), cfg, n.lab.clk, nil)
		},
		Producer:     n.producer,
		GateDeadline: n.gateDeadline,
	}
	eng = New(opts)
	n.eng = eng
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.ran = cancel, make(chan error, 1)
	go func() { n.ran <- n.eng.Run(ctx) }()
	t.Cleanup(n.crash)
	if cfg != nil {
		n.apply(cfg)
	}
}

func (n *node) apply(cfg *config.Config) []string {
	t := n.lab.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	changes, err := n.eng.Apply(ctx, cfg)
	if err != nil {
		t.Fatalf("%s: Apply: %v", n.name, err)
	}
	return changes
}

// crash ends the engine's loop without Shutdown, as SIGKILL would: the
// resources stay in the fake kernel, the heartbeats stop.
func (n *node) crash() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.ran; err != nil {
		n.lab.t.Errorf("%s: Run: %v", n.name, err)
	}
	n.cancel = nil
}

func (n *node) running() bool { return n.cancel != nil }

// shutdown stops cleanly, stepping the clock while it waits.
func (n *node) shutdown() {
	t := n.lab.t
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		done <- n.eng.Shutdown(ctx)
	}()
	deadline := time.Now().Add(patience)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: Shutdown: %v", n.name, err)
			}
			n.lab.settle()
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Shutdown did not return", n.name)
		}
		n.lab.advance(step)
	}
}

func (n *node) status() Status {
	t := n.lab.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := n.eng.Status(ctx)
	if err != nil {
		t.Fatalf("%s: Status: %v", n.name, err)
	}
	return s
}

// holds: the resources are started here and the cluster IP is up.
func (n *node) holds() bool {
	s := n.status()
	return s.View.State == fsm.Active && s.View.Phase == fsm.Held && n.hasIP()
}

func (n *node) hasIP() bool { return strings.Contains(n.kern.String(), "10.6.0.100") }

func (n *node) state() fsm.State { return n.status().View.State }

// busState is what the node's producer publishes for the group.
func (n *node) busState() busv1.State {
	resp, err := n.producer.List(context.Background(), &busv1.ListRequest{})
	if err != nil {
		n.lab.t.Fatal(err)
	}
	for _, g := range resp.GetGroups() {
		if g.GetGroup() == "cluster/cluster1" {
			return g.GetState()
		}
	}
	return busv1.State_STATE_UNSPECIFIED
}

// settle lets every goroutine of every running engine catch up with the
// fake clock: heartbeats in flight, monitor reports, resources started or
// stopped off the loop.
func (l *lab) settle() {
	deadline := time.Now().Add(patience)
	for range 4 {
		for _, n := range l.nodes {
			if !n.running() {
				continue
			}
			for n.eng.busy.Load() != 0 {
				if time.Now().After(deadline) {
					l.t.Fatalf("%s: off-loop work never finished", n.name)
				}
				time.Sleep(50 * time.Microsecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			_ = n.eng.do(ctx, func() {})
			cancel()
		}
		runtime.Gosched()
		time.Sleep(20 * time.Microsecond)
	}
}

// advance moves the clock by d in steps, settling after each.
func (l *lab) advance(d time.Duration) {
	for d > 0 {
		s := min(step, d)
		l.clk.Advance(s)
		l.settle()
		d -= s
	}
}

// until steps the clock until cond holds and returns the fake time it
// took; it fails the test after limit.
func (l *lab) until(what string, limit time.Duration, cond func() bool) time.Duration {
	l.t.Helper()
	l.settle()
	var waited time.Duration
	for !cond() {
		if waited >= limit {
			l.t.Fatalf("after %v: still not %s\n%s", waited, what, l.describe())
		}
		l.advance(step)
		waited += step
	}
	return waited
}

// describe is every running node's state, for failure messages.
func (l *lab) describe() string {
	var b strings.Builder
	for _, n := range l.nodes {
		if !n.running() {
			fmt.Fprintf(&b, "%s: not running; kernel: %q\n", n.name, n.kern.String())
			continue
		}
		s := n.status()
		fmt.Fprintf(&b, "%s: state %v phase %v local %v peer %v holder %v last %q; kernel %q; scripts %v\n",
			n.name, s.View.State, s.View.Phase, s.View.Local, s.View.Peer, s.View.Holder,
			s.View.LastTransition.Reason, n.kern.String(), n.scripts.get())
	}
	return b.String()
}

// pair starts R1 (primary) and R2 (secondary) with the same configuration
// and waits for the election.
func pair(t *testing.T, s spec) (*lab, *node, *node) {
	l := newLab(t)
	r1, r2 := l.node("R1", 1), l.node("R2", 2)
	cfg := parse(t, s)
	r1.start(cfg)
	r2.start(cfg)
	l.until("R1 holding, R2 standby", initDead, func() bool { return r1.holds() && r2.state() == fsm.Standby })
	return l, r1, r2
}

// fakeScripts is the ScriptRunner: it records "name action" and fails the
// calls listed in fail.
type fakeScripts struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]bool
}

func (f *fakeScripts) Run(_ context.Context, key string, job hook.Job) hook.Result {
	call := filepath.Base(job.Script) + " " + strings.Join(job.Args, " ")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if f.fail[call] {
		return hook.Result{Key: key, Script: job.Script, ExitCode: 1, Err: fmt.Errorf("exit status 1"), Output: []string{"cannot start"}}
	}
	return hook.Result{Key: key, Script: job.Script}
}

func (f *fakeScripts) setFail(call string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[call] = fail
}

func (f *fakeScripts) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// reachability says which monitors answer a node's pings.
type reachability struct {
	mu sync.Mutex
	up map[netip.Addr]bool
}

func (r *reachability) set(a netip.Addr, up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up[a] = up
}

func (r *reachability) answers(a netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up[a]
}

// fakeProber answers a ping at once when the monitor is reachable.
type fakeProber struct {
	reach   *reachability
	mu      sync.Mutex
	closed  bool
	replies chan monitor.Reply
}

func newFakeProber(r *reachability) *fakeProber {
	return &fakeProber{reach: r, replies: make(chan monitor.Reply, 64)}
}

func (p *fakeProber) Send(dst netip.Addr, seq uint16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.reach.answers(dst) {
		return nil
	}
	select {
	case p.replies <- monitor.Reply{From: dst, Seq: seq}:
	default:
	}
	return nil
}

func (p *fakeProber) Replies() <-chan monitor.Reply { return p.replies }

func (p *fakeProber) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.replies)
	}
	return nil
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// writeScript adds an init script to n's init directory.
func writeScript(t *testing.T, n *node, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(n.initDir, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
