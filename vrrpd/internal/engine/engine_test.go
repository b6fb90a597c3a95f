package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/hook"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/firewall"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
	"github.com/hasuite/hasuite/vrrpd/internal/netio"
	"github.com/hasuite/hasuite/vrrpd/internal/packet"
)

// patience bounds every wait on a condition; nothing should take near it.
const patience = 20 * time.Second

var key99 = config.GroupKey{Interface: "eth0", VRID: 99}

// lan is a fake segment per interface name shared by the routers of a test,
// with one fake clock.
type lan struct {
	clk   *clock.Fake
	links map[string]*netio.FakeLink
}

func newLAN() *lan { return newLANAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func newLANAt(start time.Time) *lan {
	return &lan{clk: clock.NewFake(start), links: map[string]*netio.FakeLink{}}
}

func (l *lan) link(ifname string) *netio.FakeLink {
	if l.links[ifname] == nil {
		l.links[ifname] = netio.NewFakeLink()
	}
	return l.links[ifname]
}

// router is one engine with its fake kernel.
type router struct {
	eng   *Engine
	kern  *kernel.Fake
	conns map[config.GroupKey]*netio.FakeConn
}

// newRouter runs an engine whose interfaces (eth0, eth1) have the address
// 192.0.2.host/24 and 198.51.100.host/24, attached to l's links.
// With extra, a test adds collaborators to the engine's Options.
func newRouter(t *testing.T, l *lan, host int, producer *bus.Producer, extra ...func(*Options)) *router {
	t.Helper()
	r := &router{kern: kernel.NewFake(), conns: map[config.GroupKey]*netio.FakeConn{}}
	addrs := map[string]netip.Prefix{
		"eth0": netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", host)),
		"eth1": netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/24", host)),
	}
	for i, name := range []string{"eth0", "eth1"} {
		r.kern.AddInterface(name, net.HardwareAddr{2, 0, 0, 0, byte(host), byte(i)}, addrs[name])
	}
	opts := Options{
		Clock:  l.clk,
		Kernel: r.kern,
		OpenAdverts: func(g config.Group, _ netip.Addr) (netio.AdvertConn, error) {
			// Runs on the loop, which the test only reads through
			// requests that also run there.
			c := l.link(g.Interface).Attach(addrs[g.Interface].Addr(), 1)
			r.conns[g.Key] = c
			return c, nil
		},
		Producer: producer,
	}
	for _, f := range extra {
		f(&opts)
	}
	r.eng = New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func parse(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.conf", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// oneGroup is eth0's group 99 with priority prio and extra settings.
func oneGroup(t *testing.T, prio int, extra string) *config.Config {
	return parse(t, fmt.Sprintf(`interfaces { ethernet eth0 { vrrp { vrrp-group 99 {
		priority %d virtual-address 172.16.0.24/24 %s } } } }`, prio, extra))
}

func (r *router) apply(t *testing.T, cfg *config.Config) {
	t.Helper()
	if err := r.eng.Apply(t.Context(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func (r *router) status(t *testing.T, k config.GroupKey) GroupStatus {
	t.Helper()
	all, err := r.eng.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, s := range all {
		if s.Config.Key == k {
			return s
		}
	}
	t.Fatalf("no status for %s in %d groups", k, len(all))
	return GroupStatus{}
}

// eventually waits until cond holds, failing the test after patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *router) waitState(t *testing.T, k config.GroupKey, want fsm.State) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s is %s", k, want), func() bool { return r.status(t, k).State == want })
}

func (r *router) hasVIP(vip string) bool {
	return strings.Contains(r.kern.String(), "ip addr add "+vip+" ")
}

// elect starts high (priority 200) and low (priority 100) on one link and
// advances the clock until high is MASTER and low has heard it.
func elect(t *testing.T, l *lan, high, low *router) {
	t.Helper()
	high.apply(t, oneGroup(t, 200, ""))
	low.apply(t, oneGroup(t, 100, ""))
	high.waitState(t, key99, fsm.Backup)
	low.waitState(t, key99, fsm.Backup)
	// Master_Down of priority 200 is 3 s + 56/256 s, of priority 100
	// 3 s + 156/256 s: only high's expires.
	l.clk.Advance(3300 * time.Millisecond)
	high.waitState(t, key99, fsm.Master)
	eventually(t, "low heard high's advert", func() bool { return low.status(t, key99).Counters.AdvertsReceived > 0 })
}

func TestVR_B05_TwoEnginesElectAndShutdownMovesVIPs(t *testing.T) {
	l := newLAN()
	high, low := newRouter(t, l, 1, nil), newRouter(t, l, 2, nil)
	elect(t, l, high, low)

	eventually(t, "master holds the VIP", func() bool { return high.hasVIP("172.16.0.24/24") })
	for range 5 { // adverts keep the backup down
		advanceOneAdvert(t, l, high, low)
		if st := low.status(t, key99); st.State != fsm.Backup {
			t.Fatalf("backup went %s", st.State)
		}
	}
	if low.hasVIP("172.16.0.24/24") {
		t.Fatalf("backup holds the VIP:\n%s", low.kern)
	}
	st := low.status(t, key99)
	if st.MasterIP != netip.MustParseAddr("192.0.2.1") || st.MasterPriority != 200 {
		t.Errorf("backup sees master %s priority %d, want 192.0.2.1 priority 200", st.MasterIP, st.MasterPriority)
	}

	// VR-B12: the master resigns with priority 0; the backup takes over
	// after its skew time instead of Master_Down.
	if err := high.eng.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if high.hasVIP("172.16.0.24/24") {
		t.Errorf("VIP left after Shutdown:\n%s", high.kern)
	}
	eventually(t, "backup heard priority 0", func() bool { return low.status(t, key99).Counters.Priority0Received == 1 })
	l.clk.Advance(time.Second) // skew time of priority 100: 156/256 s
	low.waitState(t, key99, fsm.Master)
	eventually(t, "VIP moved", func() bool { return low.hasVIP("172.16.0.24/24") })
	if c := low.status(t, key99).Counters; c.BecameMaster != 1 {
		t.Errorf("became master %d times, want 1", c.BecameMaster)
	}
}

func TestVR_B33_ReloadKeepsStateOfUnchangedGroupAndAppliesPriority(t *testing.T) {
	l := newLAN()
	high, low := newRouter(t, l, 1, nil), newRouter(t, l, 2, nil)
	elect(t, l, high, low)
	before := high.status(t, key99)

	tests := []struct {
		name     string
		priority int
	}{
		{"unchanged", 200},
		{"priority changed", 180},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			high.apply(t, oneGroup(t, tt.priority, ""))
			after := high.status(t, key99)
			if after.State != fsm.Master || after.LastTransition != before.LastTransition || after.Counters.BecameMaster != 1 {
				t.Fatalf("reload disturbed the group: %+v", after)
			}
			advanceOneAdvert(t, l, high, low)
			eventually(t, "an advert with the new priority", func() bool {
				return lastSentPriority(t, high, key99) == uint8(tt.priority)
			})
		})
	}
}

// advanceOneAdvert advances the clock by one advert interval and waits
// until master sent that advert (and so re-armed its timer) and backup
// handled it, so the next Advance cannot skip a deadline.
func advanceOneAdvert(t *testing.T, l *lan, master, backup *router) {
	t.Helper()
	sent, heard := master.status(t, key99).Counters.AdvertsSent, backup.status(t, key99).Counters.AdvertsReceived
	l.clk.Advance(time.Second)
	eventually(t, "the next advert sent and heard", func() bool {
		return master.status(t, key99).Counters.AdvertsSent > sent && backup.status(t, key99).Counters.AdvertsReceived > heard
	})
}

// lastSentPriority decodes the last advert r sent for k; 0 before any.
func lastSentPriority(t *testing.T, r *router, k config.GroupKey) uint8 {
	t.Helper()
	var sent []netio.Sent
	// conns is written on the loop; read it there too.
	if err := r.eng.do(t.Context(), func() { sent = r.conns[k].Sent() }); err != nil {
		t.Fatal(err)
	}
	if len(sent) == 0 {
		return 0
	}
	last := sent[len(sent)-1]
	adv, err := packet.Unmarshal(last.Payload, netip.MustParseAddr("192.0.2.1"), last.Dst, packet.Options{})
	if err != nil {
		t.Fatalf("own advert does not decode: %v", err)
	}
	return adv.Priority
}

func TestVR_B21_BadTTLIsCountedAndDropped(t *testing.T) {
	l := newLAN()
	high, low := newRouter(t, l, 1, nil), newRouter(t, l, 2, nil)
	elect(t, l, high, low)
	var conn *netio.FakeConn
	if err := low.eng.do(t.Context(), func() { conn = low.conns[key99] }); err != nil {
		t.Fatal(err)
	}
	payload, err := packet.Marshal(packet.Advertisement{
		Version: packet.Version2, Type: packet.TypeAdvertisement, VRID: 99, Priority: 254,
		AdvertInterval: 1, Addresses: []netip.Addr{netip.MustParseAddr("172.16.0.24")},
	}, netip.MustParseAddr("192.0.2.9"), netio.GroupIPv4, packet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := low.status(t, key99).Counters
	conn.Inject(netio.Received{Payload: payload, Src: netip.MustParseAddr("192.0.2.9"), Dst: netio.GroupIPv4, HopLimit: 64, IfIndex: 1})
	eventually(t, "TTL error counted", func() bool { return low.status(t, key99).Counters.TTLErrors == before.TTLErrors+1 })
	if st := low.status(t, key99); st.MasterIP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("dropped advert was processed: master is %s", st.MasterIP)
	}
}

// serveProducer serves a new producer on a unix socket in a temp dir. The
// producer calls onDemotion, if any, from its demotion hook.
func serveProducer(t *testing.T, opts ...bus.ProducerOption) (*bus.Producer, string) {
	t.Helper()
	producer := bus.NewProducer("vrrpd", nil, opts...)
	path := filepath.Join(t.TempDir(), "vrrpd.sock")
	noGroup := bus.WithGroupLookup(func(string) (uint32, bool, error) { return 0, false, nil })
	lis, err := bus.Listen(path, noGroup)
	if err != nil {
		t.Fatal(err)
	}
	srv := bus.NewServer(path, nil, noGroup)
	busv1.RegisterFailoverServer(srv, producer)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return producer, path
}

// runHolder runs h until the test ends.
func runHolder(t *testing.T, h *bus.Holder) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { held <- h.Run(ctx) }()
	t.Cleanup(func() { stop(); <-held })
}

// TestEngineGateDelaysVIPs checks the two-phase takeover (ARCHITECTURE.md,
// takeover gates): a MASTER adds its VIPs only when the gate holder is ready.
func TestEngineGateDelaysVIPs(t *testing.T) {
	// Gate holders bound their work by the Prepare deadline in real time,
	// so the fake clock starts at the real time.
	l := newLANAt(time.Now())
	producer, path := serveProducer(t)
	release := make(chan struct{})
	prepared := make(chan struct{}, 1)
	holder := bus.NewHolder(bus.DialerFor(path), key99.String(), "ctsyncd", func(ctx context.Context, _ bus.PrepareRequest) error {
		prepared <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	runHolder(t, holder)

	// The group must exist on the bus for List to show its holders.
	if err := producer.Publish(key99.String(), busv1.State_STATE_INIT, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "holder registered", func() bool {
		resp, err := producer.List(t.Context(), &busv1.ListRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range resp.GetGroups() {
			if g.GetGroup() == key99.String() && len(g.GetHolders()) > 0 {
				return true
			}
		}
		return false
	})

	owner := newRouter(t, l, 1, producer)
	owner.apply(t, oneGroup(t, 255, "gate-deadline 60"))
	select {
	case <-prepared:
	case <-time.After(patience):
		t.Fatal("the holder got no Prepare")
	}
	if st := owner.status(t, key99); st.State != fsm.Master || !st.Preparing || owner.hasVIP("172.16.0.24/24") {
		t.Fatalf("before the gate is ready: state %s preparing %v, kernel:\n%s", st.State, st.Preparing, owner.kern)
	}
	close(release)
	eventually(t, "VIP added once ready", func() bool { return owner.hasVIP("172.16.0.24/24") })
	tk := owner.status(t, key99).LastTakeover
	if !tk.Gates.Ready() || len(tk.Gates.Holders) != 1 || tk.VIPsAdded.IsZero() {
		t.Errorf("takeover not recorded: %+v", tk)
	}
}

func TestVR_B27_FaultOfOneSyncMemberHoldsBothBackup(t *testing.T) {
	l := newLAN()
	r := newRouter(t, l, 1, nil)
	r.apply(t, parse(t, `interfaces {
		ethernet eth0 { vrrp { vrrp-group 99 { priority 150 sync-group ALPHA virtual-address 172.16.0.24/24 } } }
		ethernet eth1 { vrrp { vrrp-group 101 { priority 150 sync-group ALPHA virtual-address 172.16.30.24/24 } } }
	}`))
	key101 := config.GroupKey{Interface: "eth1", VRID: 101}
	l.clk.Advance(4 * time.Second)
	r.waitState(t, key99, fsm.Master)
	r.waitState(t, key101, fsm.Master)

	if err := r.kern.SetRunning("eth1", false); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, key101, fsm.Fault)
	r.waitState(t, key99, fsm.Backup)
	eventually(t, "VIPs removed", func() bool { return !r.hasVIP("172.16.0.24/24") })

	// The cable is back: both members start over and take over together.
	if err := r.kern.SetRunning("eth1", true); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, key101, fsm.Backup)
	l.clk.Advance(4 * time.Second)
	r.waitState(t, key99, fsm.Master)
	r.waitState(t, key101, fsm.Master)
}

// TestVR_B03_VMACLifecycle covers RFC 3768 mode: leftovers not configured
// are deleted at the first load, the group's VRRP interface carries the VIP
// and goes away with the group.
func TestVR_B03_VMACLifecycle(t *testing.T) {
	l := newLAN()
	r := newRouter(t, l, 1, nil)
	leftover := kernel.VMAC{Name: "eth0v7", Parent: "eth0", MAC: config.VirtualMAC(7, false)}
	if err := r.kern.EnsureVMAC(t.Context(), leftover); err != nil {
		t.Fatal(err)
	}
	r.apply(t, oneGroup(t, 255, "rfc3768-compatibility"))
	r.waitState(t, key99, fsm.Master)
	eventually(t, "VIP on the VRRP interface", func() bool {
		return strings.Contains(r.kern.String(), "ip addr add 172.16.0.24/24 dev eth0v99")
	})
	if text := r.kern.String(); strings.Contains(text, "eth0v7") {
		t.Errorf("leftover kept:\n%s", text)
	}

	r.apply(t, parse(t, `interfaces { ethernet eth0 { description lan } }`))
	if text := r.kern.String(); strings.Contains(text, "eth0v99") {
		t.Errorf("VRRP interface kept after the group was removed:\n%s", text)
	}
	if all, err := r.eng.Status(t.Context()); err != nil || len(all) != 0 {
		t.Errorf("Status after removal: %v, %v; want none", all, err)
	}
}

func TestEngineRequestsAfterRunEnded(t *testing.T) {
	eng := New(Options{Clock: clock.NewFake(time.Time{}), Kernel: kernel.NewFake()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := eng.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := eng.Status(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("Status after Run: %v, want ErrStopped", err)
	}
}

// fakeAnnouncer counts the gratuitous ARPs sent per VIP.
type fakeAnnouncer struct {
	mu   sync.Mutex
	sent int
	macs []string
}

func (a *fakeAnnouncer) AnnounceIPv4(_ netip.Addr, mac net.HardwareAddr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent++
	a.macs = append(a.macs, mac.String())
	return nil
}

func (a *fakeAnnouncer) AnnounceIPv6(netip.Addr, netip.Addr, net.HardwareAddr, bool) error {
	return errors.New("no IPv6 in this test")
}

func (a *fakeAnnouncer) Close() error { return nil }

func (a *fakeAnnouncer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent
}

// TestVR_B14_GARPScheduleStopsWhenResigning checks the announcement bursts
// and refreshes of a master, and that `reset vrrp master` (VR-O05) ends them.
func TestVR_B14_GARPScheduleStopsWhenResigning(t *testing.T) {
	l := newLAN()
	announcer := &fakeAnnouncer{}
	r := newRouter(t, l, 1, nil, func(o *Options) {
		o.OpenAnnouncer = func(string) (Announcer, error) { return announcer, nil }
	})
	r.apply(t, oneGroup(t, 255, "rfc3768-compatibility garp { master-repeat 2 master-delay 5 master-refresh 10 master-refresh-repeat 1 }"))
	r.waitState(t, key99, fsm.Master)

	steps := []struct {
		advance time.Duration
		want    int
	}{
		{0, 2},                // first burst
		{5 * time.Second, 4},  // second burst
		{10 * time.Second, 5}, // refresh, 10 s after the last burst's start
	}
	for _, s := range steps {
		l.clk.Advance(s.advance)
		eventually(t, fmt.Sprintf("%d announcements", s.want), func() bool { return announcer.count() == s.want })
		r.status(t, key99) // a round trip through the loop: the next round is armed
	}
	announcer.mu.Lock()
	if mac := announcer.macs[0]; mac != "00:00:5e:00:01:63" {
		t.Errorf("announced from %s, want the virtual MAC", mac)
	}
	announcer.mu.Unlock()

	if err := r.eng.ResetMaster(t.Context(), key99); err != nil {
		t.Fatalf("ResetMaster: %v", err)
	}
	if st := r.status(t, key99); st.State != fsm.Backup || st.Counters.ReleasedMaster != 1 {
		t.Fatalf("after reset: %s, released %d times", st.State, st.Counters.ReleasedMaster)
	}
	if err := r.eng.ResetMaster(t.Context(), config.GroupKey{Interface: "eth9", VRID: 1}); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("ResetMaster of an unknown group: %v, want ErrUnknownGroup", err)
	}
	// The owner takes over again at once (VR-B35); the old refresh timer
	// must not add rounds to the new master's schedule.
	l.clk.Advance(10 * time.Second)
	r.waitState(t, key99, fsm.Master)
	if n := r.status(t, key99).Counters.BecameMaster; n < 2 {
		t.Fatalf("became master %d times, want a second takeover", n)
	}
}

// TestVR_B31_TransitionScriptArguments runs a real script through
// pkg/hook and checks the arguments and environment it gets.
func TestVR_B31_TransitionScriptArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := "#!/bin/sh\necho \"$* | $VRRP_STATE $VRRP_VIPS\" > " + out + ".tmp && mv " + out + ".tmp " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "notify"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks := hook.NewRunner(hook.Options{ScriptsDir: dir})
	t.Cleanup(func() { _ = hooks.Close(context.Background()) })
	l := newLAN()
	r := newRouter(t, l, 1, nil, func(o *Options) { o.Hooks = hooks })
	r.apply(t, oneGroup(t, 255, "run-transition-scripts { master notify }"))
	r.waitState(t, key99, fsm.Master)

	want := "master eth0 99 eth0 172.16.0.24 | master 172.16.0.24/24\n"
	eventually(t, "the script ran", func() bool {
		got, err := os.ReadFile(out)
		return err == nil && string(got) == want
	})
}

// TestEngineDemotionStopsPreemption: while a bus holder demotes the group,
// a higher-priority backup does not preempt the healthy master
// (ARCHITECTURE.md, takeover gates); once it stops, the backup takes over.
func TestEngineDemotionStopsPreemption(t *testing.T) {
	l := newLAN()
	var high *router
	var mu sync.Mutex
	producer, path := serveProducer(t, bus.WithDemotionHook(func(group string) {
		mu.Lock()
		defer mu.Unlock()
		if high != nil {
			high.eng.DemotionChanged(group)
		}
	}))
	holder := bus.NewHolder(bus.DialerFor(path), key99.String(), "ctsyncd", nil)
	holder.SetDemoted(true, "initial resync pending")
	runHolder(t, holder)
	eventually(t, "demotion registered", func() bool { held, _ := producer.Demoted(key99.String()); return held })

	low := newRouter(t, l, 2, nil)
	low.apply(t, oneGroup(t, 100, ""))
	l.clk.Advance(4 * time.Second)
	low.waitState(t, key99, fsm.Master)

	mu.Lock()
	high = newRouter(t, l, 1, producer)
	mu.Unlock()
	high.apply(t, oneGroup(t, 200, ""))
	if st := high.status(t, key99); !st.Demoted {
		t.Fatalf("demotion not applied at start: %+v", st)
	}
	for range 5 {
		advanceOneAdvert(t, l, low, high)
	}
	if st := high.status(t, key99); st.State != fsm.Backup {
		t.Fatalf("demoted group preempted: %s", st.State)
	}

	holder.SetDemoted(false, "")
	eventually(t, "demotion cleared", func() bool { return !high.status(t, key99).Demoted })
	for range 5 {
		l.clk.Advance(time.Second)
		if high.status(t, key99).State == fsm.Master {
			break
		}
	}
	high.waitState(t, key99, fsm.Master)
}

func TestVR_B03_ListenConfig(t *testing.T) {
	primary := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name  string
		extra string
		want  netio.AdvertConfig
	}{
		{"plain", "", netio.AdvertConfig{ReceiveInterface: "eth0", SendInterface: "eth0", Source: primary}},
		{"VR-B02 rfc3768 sends from the primary address", "rfc3768-compatibility",
			netio.AdvertConfig{ReceiveInterface: "eth0", SendInterface: "eth0v99", Source: primary}},
		{"unicast from hello-source", "peer-address 192.0.2.2 hello-source-address 192.0.2.1",
			netio.AdvertConfig{ReceiveInterface: "eth0", SendInterface: "eth0", Source: netip.MustParseAddr("192.0.2.1"), Unicast: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oneGroup(t, 100, tt.extra)
			if got := ListenConfig(cfg.Groups[0], tt.want.Source); got != tt.want {
				t.Errorf("ListenConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestVR_B15_StateFilterFollowsTheVIPs: in RFC 3768 mode a backup drops
// what reaches its VRRP interface and the master does not; a resigning
// master drops again, and a stopped group leaves no rule. The VIP rules
// stay the same in every state.
func TestVR_B15_StateFilterFollowsTheVIPs(t *testing.T) {
	l := newLAN()
	filters := map[int]*firewall.Fake{1: firewall.NewFake(), 2: firewall.NewFake()}
	withFilter := func(host int) func(*Options) {
		return func(o *Options) { o.Filter = filters[host] }
	}
	high, low := newRouter(t, l, 1, nil, withFilter(1)), newRouter(t, l, 2, nil, withFilter(2))
	high.apply(t, oneGroup(t, 200, "rfc3768-compatibility"))
	low.apply(t, oneGroup(t, 100, "rfc3768-compatibility"))
	high.waitState(t, key99, fsm.Backup)
	low.waitState(t, key99, fsm.Backup)
	for host, r := range map[int]*router{1: high, 2: low} {
		if !r.kern.BackupDrop("eth0v99") {
			t.Errorf("router %d in BACKUP does not drop what reaches eth0v99:\n%s", host, r.kern)
		}
		if rules := filters[host].Rules("eth0/99"); len(rules) != 1 {
			t.Errorf("router %d: VIP rules %v, want one", host, rules)
		}
	}
	l.clk.Advance(3300 * time.Millisecond)
	high.waitState(t, key99, fsm.Master)
	// Synchronous: once MASTER holds its VIPs, the drop is gone.
	eventually(t, "the master's VIP", func() bool { return high.hasVIP("172.16.0.24/24") })
	if high.kern.BackupDrop("eth0v99") {
		t.Errorf("the master still drops what reaches eth0v99:\n%s", high.kern)
	}
	if !low.kern.BackupDrop("eth0v99") {
		t.Errorf("the backup stopped dropping:\n%s", low.kern)
	}
	if rules := filters[1].Rules("eth0/99"); len(rules) != 1 {
		t.Errorf("the master's VIP rules %v, want the same one", rules)
	}
	if err := high.eng.ResetMaster(t.Context(), key99); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reset master drops again", func() bool { return high.kern.BackupDrop("eth0v99") && !high.hasVIP("172.16.0.24/24") })
	low.apply(t, parse(t, `interfaces { ethernet eth1 { vrrp { vrrp-group 1 { virtual-address 198.51.100.50/24 } } } }`))
	eventually(t, "a removed group's rules go", func() bool { return len(filters[2].Rules("eth0/99")) == 0 })
	if strings.Contains(low.kern.String(), "eth0v99") {
		t.Errorf("a removed group's VRRP interface or drop stayed:\n%s", low.kern)
	}
}

// TestVR_B30_B35_InterfaceWithoutAddress: a group whose interface has no
// address yet waits in FAULT instead of failing the start (the daemon used
// to exit), and runs once the interface is numbered; an address owner on
// such an interface (Example 2-5 as printed) advertises from its VIP.
func TestVR_B30_B35_InterfaceWithoutAddress(t *testing.T) {
	l := newLAN()
	r := newRouter(t, l, 1, nil)
	r.kern.AddInterface("eth2", net.HardwareAddr{2, 0, 0, 0, 1, 2})
	r.kern.AddInterface("eth3", net.HardwareAddr{2, 0, 0, 0, 1, 3})
	r.apply(t, parse(t, `interfaces {
		ethernet eth2 { vrrp { vrrp-group 5 { virtual-address 203.0.113.50/24 } } }
		ethernet eth3 { vrrp { vrrp-group 6 { priority 255 virtual-address 203.0.114.60/24 } } }
	}`))
	plain, owner := config.GroupKey{Interface: "eth2", VRID: 5}, config.GroupKey{Interface: "eth3", VRID: 6}
	r.waitState(t, plain, fsm.Fault)
	r.waitState(t, owner, fsm.Master)
	if st := r.status(t, owner); st.MasterIP != netip.MustParseAddr("203.0.114.60") {
		t.Errorf("the owner advertises from %s, want its VIP 203.0.114.60", st.MasterIP)
	}
	// The administrator numbers the interface.
	if err := r.kern.AddVIP(t.Context(), "eth2", netip.MustParsePrefix("203.0.113.2/24")); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, plain, fsm.Backup)
}
