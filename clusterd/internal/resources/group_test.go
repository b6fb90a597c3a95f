package resources

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/pkg/clock"
	"github.com/hasuite/hasuite/pkg/hook"
)

// fixture is a Group over fakes, with the guide's Example 3-4 services
// (plus a resource script): two cluster IPs, an init script, a resource.d
// script.
type fixture struct {
	g      *Group
	kernel *FakeKernel
	j      *journal
	clock  *clock.Fake
	opts   Options
}

var exampleServices = []config.Service{
	ipService("10.6.0.100/24/eth1", "10.6.0.100/24", "eth1", "eth1:0"),
	ipService("12.34.56.78/24/eth0", "12.34.56.78/24", "eth0", "eth0:0"),
	initService("ipsec"),
	scriptService("Delay::1::0"),
}

func newFixture(t *testing.T, services []config.Service, results map[string]hook.Result) *fixture {
	t.Helper()
	initDir, resourceDir := scriptDirs(t, []string{"ipsec", "dnsmasq"}, []string{"Delay", "MailTo"})
	j := &journal{}
	k := NewFakeKernel("eth0", "eth1")
	k.AddForeign(Addr{Interface: "eth0", Prefix: netip.MustParsePrefix("12.34.56.1/24")})
	k.AddForeign(Addr{Interface: "eth1", Prefix: netip.MustParsePrefix("10.6.0.1/24")})
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	opts := Options{
		Name:         "cluster1",
		Kernel:       journaledKernel{k, j},
		Scripts:      &fakeScripts{j: j, results: results},
		Clock:        clk,
		InitDir:      initDir,
		ResourceDirs: []string{resourceDir},
		SystemdDir:   t.TempDir(),
		Systemctl:    "/bin/systemctl",
	}
	g, err := New(services, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return &fixture{g: g, kernel: k, j: j, clock: clk, opts: opts}
}

func phases(g *Group) []string {
	var out []string
	for _, s := range g.State() {
		out = append(out, s.Service.Display()+"="+s.Phase.String())
	}
	return out
}

// TestCL_B13_B15_StartInOrderStopInReverse starts the example group and
// stops it: addresses with their labels and broadcast, scripts with start
// and stop, stop order the reverse of start order.
func TestCL_B13_B15_StartInOrderStopInReverse(t *testing.T) {
	f := newFixture(t, exampleServices, nil)
	ctx := context.Background()
	if err := f.g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wantStart := []string{"add 10.6.0.100", "add 12.34.56.78", "ipsec start", "Delay 1 0 start"}
	if got := f.j.get(); !slices.Equal(got, wantStart) {
		t.Errorf("start did\n%q\nwant\n%q", got, wantStart)
	}
	wantKernel := strings.Join([]string{
		"10.6.0.1/24 dev eth1 label eth1",
		"10.6.0.100/24 dev eth1 brd 10.6.0.255 label eth1:0",
		"12.34.56.1/24 dev eth0 label eth0",
		"12.34.56.78/24 dev eth0 brd 12.34.56.255 label eth0:0",
	}, "\n")
	if got := f.kernel.String(); got != wantKernel {
		t.Errorf("kernel holds\n%s\nwant\n%s", got, wantKernel)
	}
	if got, want := phases(f.g), []string{"10.6.0.100=running", "12.34.56.78=running", "ipsec=running", "Delay::1::0=running"}; !slices.Equal(got, want) {
		t.Errorf("states %q, want %q", got, want)
	}
	// Starting again starts nothing more.
	if err := f.g.Start(ctx); err != nil || len(f.j.get()) != len(wantStart) {
		t.Errorf("second Start: %v, journal %q", err, f.j.get())
	}

	if err := f.g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wantStop := []string{"Delay 1 0 stop", "ipsec stop", "del 12.34.56.78", "del 10.6.0.100"}
	if got := f.j.get()[len(wantStart):]; !slices.Equal(got, wantStop) {
		t.Errorf("stop did\n%q\nwant\n%q", got, wantStop)
	}
	if got, want := f.kernel.String(), "10.6.0.1/24 dev eth1 label eth1\n12.34.56.1/24 dev eth0 label eth0"; got != want {
		t.Errorf("after stop the kernel holds\n%s\nwant only the interfaces' own addresses", got)
	}
}

// TestCL_B13_GratuitousARPThreeTimesOneSecondApart checks the burst runs
// in the background: Start returns after the first, the others follow at
// 1 s and 2 s, and Stop ends a burst in progress.
func TestCL_B13_GratuitousARPThreeTimesOneSecondApart(t *testing.T) {
	f := newFixture(t, exampleServices[:1], nil)
	if err := f.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	announced := func() int {
		return len(slices.DeleteFunc(f.kernel.Log(), func(l string) bool { return !strings.HasPrefix(l, "announce 10.6.0.100 dev eth1") }))
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for want := 1; want <= 3; want++ {
		waitFor(t, "gratuitous ARP", func() bool { return announced() == want })
		if want < 3 {
			if err := f.clock.BlockUntil(ctx, 1); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Second)
		}
	}
	f.g.Close()
	f.clock.Advance(time.Hour)
	if n := announced(); n != 3 {
		t.Errorf("%d gratuitous ARPs, want 3", n)
	}

	// A burst cut short by Stop.
	f2 := newFixture(t, exampleServices[:1], nil)
	if err := f2.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f2.clock.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := f2.g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	f2.g.Close() // returns only once the burst has ended
	f2.clock.Advance(time.Hour)
	if n := len(slices.DeleteFunc(f2.kernel.Log(), func(l string) bool { return !strings.HasPrefix(l, "announce") })); n != 1 {
		t.Errorf("%d gratuitous ARPs after an early stop, want 1", n)
	}
}

// TestCL_B14_StartFailureStopsTheStartedOnesInReverse fails each service
// in turn and checks the rollback and the error.
func TestCL_B14_StartFailureStopsTheStartedOnesInReverse(t *testing.T) {
	scriptFailure := hook.Result{ExitCode: 1, Err: errors.New("exit status 1"), Output: []string{"ipsec: cannot bind 10.6.0.100"}}
	tests := []struct {
		name       string
		fail       func(f *fixture)
		results    map[string]hook.Result
		wantFailed string
		wantOutput []string
		want       []string
	}{
		{
			name:       "init script",
			results:    map[string]hook.Result{"ipsec start": scriptFailure},
			wantFailed: "ipsec",
			wantOutput: scriptFailure.Output,
			want:       []string{"add 10.6.0.100", "add 12.34.56.78", "ipsec start", "del 12.34.56.78", "del 10.6.0.100"},
		},
		{
			name:       "resource script",
			results:    map[string]hook.Result{"Delay 1 0 start": {ExitCode: 2, Err: errors.New("exit status 2")}},
			wantFailed: "Delay::1::0",
			want:       []string{"add 10.6.0.100", "add 12.34.56.78", "ipsec start", "Delay 1 0 start", "ipsec stop", "del 12.34.56.78", "del 10.6.0.100"},
		},
		{
			name: "second cluster IP",
			fail: func(f *fixture) {
				f.kernel.FailOn("add", netip.MustParseAddr("12.34.56.78"), errors.New("operation not permitted"))
			},
			wantFailed: "12.34.56.78/24/eth0",
			want:       []string{"add 10.6.0.100", "del 10.6.0.100"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, exampleServices, tc.results)
			if tc.fail != nil {
				tc.fail(f)
			}
			err := f.g.Start(context.Background())
			var se *StartError
			if !errors.As(err, &se) || se.Service.Raw != tc.wantFailed || !slices.Equal(se.Output, tc.wantOutput) {
				t.Fatalf("Start = %v, want a StartError for %s with output %q", err, tc.wantFailed, tc.wantOutput)
			}
			if !strings.Contains(err.Error(), tc.wantFailed) {
				t.Errorf("error %q does not name the service", err)
			}
			if got := f.j.get(); !slices.Equal(got, tc.want) {
				t.Errorf("did\n%q\nwant\n%q", got, tc.want)
			}
			for _, s := range f.g.State() {
				want := Stopped
				if s.Service.Raw == tc.wantFailed {
					want = Failed
				}
				if s.Phase != want {
					t.Errorf("%s is %s, want %s", s.Service.Raw, s.Phase, want)
				}
				if want == Failed && (s.Err == "" || !slices.Equal(s.Output, tc.wantOutput)) {
					t.Errorf("failed state %+v lacks the error or the output %q", s, tc.wantOutput)
				}
			}
		})
	}
}

// TestCL_Q15_StopGoesOnPastFailures: a stop script that fails or times out
// does not keep the others from stopping nor the addresses from going.
func TestCL_Q15_StopGoesOnPastFailures(t *testing.T) {
	f := newFixture(t, exampleServices, map[string]hook.Result{
		"Delay 1 0 stop": {ExitCode: -1, TimedOut: true, Err: hook.ErrTimedOut},
		"ipsec stop":     {ExitCode: 1, Err: errors.New("exit status 1")},
	})
	ctx := context.Background()
	if err := f.g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err := f.g.Stop(ctx)
	if err == nil || !errors.Is(err, hook.ErrTimedOut) || !strings.Contains(err.Error(), "ipsec") {
		t.Errorf("Stop = %v, want both failures joined", err)
	}
	want := []string{"Delay 1 0 stop", "ipsec stop", "del 12.34.56.78", "del 10.6.0.100"}
	if got := f.j.get()[4:]; !slices.Equal(got, want) {
		t.Errorf("stop did\n%q\nwant\n%q", got, want)
	}
	if got, want := phases(f.g), []string{"10.6.0.100=stopped", "12.34.56.78=stopped", "ipsec=failed", "Delay::1::0=failed"}; !slices.Equal(got, want) {
		t.Errorf("states %q, want %q", got, want)
	}
	// A failed service is stopped again next time, a stopped one is not.
	if err := f.g.Stop(ctx); err == nil {
		t.Error("second Stop succeeded, want the same failures")
	}
	if got := f.j.get()[8:]; !slices.Equal(got, []string{"Delay 1 0 stop", "ipsec stop"}) {
		t.Errorf("second stop did %q", got)
	}
}

// TestCL_B17_ForeignAddressIsRefused: a cluster IP configured by something
// else, on its interface or another, fails the start and stays.
func TestCL_B17_ForeignAddressIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, ifname, label string }{
		{"same interface, no label", "eth1", ""},
		{"same interface, the alias label", "eth1", "eth1:0"},
		{"another interface", "eth0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, exampleServices, nil)
			foreign := Addr{Interface: tc.ifname, Prefix: netip.MustParsePrefix("10.6.0.100/24"), Label: tc.label}
			f.kernel.AddForeign(foreign)
			err := f.g.Start(context.Background())
			if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "10.6.0.100") || !strings.Contains(err.Error(), tc.ifname) {
				t.Fatalf("Start = %v, want ErrNotOurs naming the address and %s", err, tc.ifname)
			}
			if err := f.g.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(f.kernel.String(), "10.6.0.100/24 dev "+tc.ifname) {
				t.Errorf("the foreign address was removed:\n%s", f.kernel)
			}
		})
	}
}

// TestCL_B17_LeftoversOfAKilledRun: the ledger in the state directory lets
// a restarted clusterd recognise and remove its own addresses, and only
// those.
func TestCL_B17_LeftoversOfAKilledRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", LedgerFile)
	ledger, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, exampleServices[:2], nil)
	f.opts.Ledger = ledger
	g, err := New(exampleServices[:2], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Close()
	// "Killed": nothing stopped. Someone relabels one of the addresses
	// meanwhile, which makes it theirs.
	f.kernel.mu.Lock()
	for i, a := range f.kernel.addrs {
		if a.Prefix.Addr() == netip.MustParseAddr("12.34.56.78") {
			f.kernel.addrs[i].Label = "eth0:9"
		}
	}
	f.kernel.mu.Unlock()

	// A restarted clusterd reads the ledger again, and a Start before
	// any cleanup keeps what is its own.
	restarted, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(restarted.Entries()); got != 2 {
		t.Fatalf("ledger holds %d entries, want 2", got)
	}
	removed, err := Cleanup(context.Background(), f.kernel, restarted, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Prefix.Addr() != netip.MustParseAddr("10.6.0.100") {
		t.Errorf("Cleanup removed %v, want only 10.6.0.100", removed)
	}
	want := "10.6.0.1/24 dev eth1 label eth1\n12.34.56.1/24 dev eth0 label eth0\n12.34.56.78/24 dev eth0 brd 12.34.56.255 label eth0:9"
	if got := f.kernel.String(); got != want {
		t.Errorf("after cleanup\n%s\nwant\n%s", got, want)
	}
	if again, _ := OpenLedger(path); len(again.Entries()) != 0 {
		t.Errorf("ledger still holds %v", again.Entries())
	}
}

// TestCL_B17_OwnAddressFromAnEarlierRunIsKept: Start finds its own
// address (ledger and label match) and keeps it instead of failing.
func TestCL_B17_OwnAddressFromAnEarlierRunIsKept(t *testing.T) {
	ledger, _ := OpenLedger(filepath.Join(t.TempDir(), LedgerFile))
	f := newFixture(t, exampleServices[:1], nil)
	f.opts.Ledger = ledger
	first, _ := New(exampleServices[:1], f.opts)
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second, _ := New(exampleServices[:1], f.opts)
	defer second.Close()
	if err := second.Start(context.Background()); err != nil {
		t.Fatalf("Start over its own leftover: %v", err)
	}
	if st := second.Status(context.Background()); st[0].Health != HealthRunning {
		t.Errorf("status %+v, want running", st[0])
	}
}

// TestCL_B18_WarnsWithoutAnAddressInTheSubnet: the start goes on, and the
// warning reaches State.
func TestCL_B18_WarnsWithoutAnAddressInTheSubnet(t *testing.T) {
	svc := ipService("192.0.2.10/24/eth1", "192.0.2.10/24", "eth1", "eth1:0")
	f := newFixture(t, []config.Service{svc, exampleServices[0]}, nil)
	if err := f.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.g.State()
	if !strings.Contains(st[0].Warning, "no address of its own in 192.0.2.0/24") || st[0].Phase != Running {
		t.Errorf("state %+v, want running with a CL-B18 warning", st[0])
	}
	if st[1].Warning != "" {
		t.Errorf("10.6.0.100 on eth1 (own address 10.6.0.1/24) warns %q", st[1].Warning)
	}
}

// TestCL_B23_Reconcile checks a reload of a started group touches only
// what changed, and of a stopped group nothing at all.
func TestCL_B23_Reconcile(t *testing.T) {
	relabelled := ipService("12.34.56.78/24/eth0", "12.34.56.78/24", "eth0", "eth0:1")
	tests := []struct {
		name    string
		started bool
		next    []config.Service
		want    []string
		phases  []string
	}{
		{
			name:    "unchanged",
			started: true,
			next:    exampleServices,
			phases:  []string{"10.6.0.100=running", "12.34.56.78=running", "ipsec=running", "Delay::1::0=running"},
		},
		{
			name:    "added and removed",
			started: true,
			next:    []config.Service{exampleServices[0], initService("dnsmasq"), exampleServices[2], ipService("10.6.0.101/24/eth1", "10.6.0.101/24", "eth1", "eth1:1")},
			want:    []string{"Delay 1 0 stop", "del 12.34.56.78", "dnsmasq start", "add 10.6.0.101"},
			phases:  []string{"10.6.0.100=running", "dnsmasq=running", "ipsec=running", "10.6.0.101=running"},
		},
		{
			name:    "new alias label only",
			started: true,
			next:    []config.Service{exampleServices[0], relabelled},
			want:    []string{"Delay 1 0 stop", "ipsec stop"},
			phases:  []string{"10.6.0.100=running", "12.34.56.78=running"},
		},
		{
			name:   "stopped group",
			next:   []config.Service{initService("dnsmasq")},
			phases: []string{"dnsmasq=stopped"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, exampleServices, nil)
			if tc.started {
				if err := f.g.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			before := len(f.j.get())
			if err := f.g.Reconcile(context.Background(), tc.next); err != nil {
				t.Fatal(err)
			}
			if got := f.j.get()[before:]; !slices.Equal(got, tc.want) {
				t.Errorf("reload did\n%q\nwant\n%q", got, tc.want)
			}
			if got := phases(f.g); !slices.Equal(got, tc.phases) {
				t.Errorf("states %q, want %q", got, tc.phases)
			}
		})
	}
}

// TestCL_B23_ReconcileWithAnUnknownServiceChangesNothing.
func TestCL_B23_ReconcileWithAnUnknownServiceChangesNothing(t *testing.T) {
	f := newFixture(t, exampleServices, nil)
	if err := f.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := len(f.j.get())
	err := f.g.Reconcile(context.Background(), []config.Service{exampleServices[0], scriptService("Nosuch::x")})
	if err == nil || !strings.Contains(err.Error(), "Nosuch::x") {
		t.Fatalf("Reconcile = %v, want an error naming the service", err)
	}
	if len(f.j.get()) != before || len(f.g.State()) != len(exampleServices) {
		t.Errorf("a failed reload changed things: %q", f.j.get()[before:])
	}
}

// TestCL_C08_ResolveScripts checks where each service form is looked for.
func TestCL_C08_ResolveScripts(t *testing.T) {
	initDir, resourceDir := scriptDirs(t, []string{"ipsec"}, []string{"IPaddr2"})
	fallbackDir := t.TempDir()
	_, guideDir := scriptDirs(t, nil, []string{"MailTo"})
	tests := []struct {
		name      string
		svc       config.Service
		noSystemd bool
		wantCall  string // what fakeScripts journals for start
		wantErr   string
	}{
		{name: "init script", svc: initService("ipsec"), wantCall: "ipsec start"},
		{name: "systemd unit when no init script", svc: initService("strongswan"), wantCall: "systemctl strongswan.service start"},
		{name: "explicit systemd unit", svc: initService("systemd:ipsec"), wantCall: "systemctl ipsec.service start"},
		{name: "explicit systemd unit with suffix", svc: initService("systemd:vpn.target"), wantCall: "systemctl vpn.target start"},
		{name: "neither init script nor systemd", svc: initService("strongswan"), noSystemd: true, wantErr: "no init script " + filepath.Join(initDir, "strongswan") + ", and systemd is not running"},
		{name: "resource script with arguments", svc: scriptService("IPaddr2::10.0.0.1/24/eth0"), wantCall: "IPaddr2 10.0.0.1/24/eth0 start"},
		{name: "resource script in the guide's directory", svc: scriptService("MailTo::root::cluster"), wantCall: "MailTo root cluster start"},
		{name: "missing resource script", svc: scriptService("Nope::x"), wantErr: "looked for " + filepath.Join(resourceDir, "Nope") + ", " + filepath.Join(fallbackDir, "Nope") + ", " + filepath.Join(guideDir, "Nope")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			opts := Options{Scripts: &fakeScripts{j: j}, InitDir: initDir, ResourceDirs: []string{resourceDir, fallbackDir, guideDir},
				SystemdDir: t.TempDir(), Systemctl: "/bin/systemctl"}
			if tc.noSystemd {
				opts.SystemdDir = filepath.Join(opts.SystemdDir, "absent")
			}
			g, err := New([]config.Service{tc.svc}, opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := j.get(); !slices.Equal(got, []string{tc.wantCall}) {
				t.Errorf("ran %q, want %q", got, tc.wantCall)
			}
		})
	}
}

// TestCL_C08_Status maps LSB status exit codes.
func TestCL_C08_Status(t *testing.T) {
	f := newFixture(t, exampleServices, map[string]hook.Result{
		"ipsec status":     {ExitCode: 3, Err: errors.New("exit status 3")},
		"Delay 1 0 status": {ExitCode: 4, Err: errors.New("exit status 4")},
	})
	if err := f.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.g.Status(context.Background()) {
		got = append(got, s.Service.Display()+"="+s.Health.String())
	}
	want := []string{"10.6.0.100=running", "12.34.56.78=running", "ipsec=stopped", "Delay::1::0=unknown"}
	if !slices.Equal(got, want) {
		t.Errorf("status %q, want %q", got, want)
	}
}

func TestBroadcastOf(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		{"10.6.0.100/24", "10.6.0.255"},
		{"12.34.56.78/16", "12.34.255.255"},
		{"10.0.0.1/30", "10.0.0.3"},
		{"10.0.0.1/31", "invalid IP"},
		{"10.0.0.1/32", "invalid IP"},
	} {
		if got := broadcastOf(netip.MustParsePrefix(tc.prefix)).String(); got != tc.want {
			t.Errorf("broadcastOf(%s) = %s, want %s", tc.prefix, got, tc.want)
		}
	}
}

// TestCL_C08_CheckNeedsNoCollaborators: validate-time checks resolve the
// scripts only.
func TestCL_C08_CheckNeedsNoCollaborators(t *testing.T) {
	initDir, resourceDir := scriptDirs(t, []string{"ipsec"}, nil)
	opts := Options{InitDir: initDir, ResourceDirs: []string{resourceDir}, SystemdDir: filepath.Join(t.TempDir(), "absent")}
	if err := Check(exampleServices[:3], opts); err != nil {
		t.Errorf("Check = %v", err)
	}
	if err := Check([]config.Service{initService("nosuch")}, opts); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("Check of a missing init script = %v", err)
	}
}

// TestCL_B15_StopLeftovers: a killed run's group, started and then
// forgotten, is stopped in reverse order by a new Group that never started
// it, cluster IPs included (the shared ledger says they are ours).
func TestCL_B15_StopLeftovers(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	opts := f.opts
	ledger, err := OpenLedger("") // one ledger for both runs, as the state file is
	if err != nil {
		t.Fatal(err)
	}
	opts.Ledger = ledger
	killed, err := New(exampleServices, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(killed.Close)
	if err := killed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	started := len(f.j.get())
	// The restarted daemon's view: a new Group over the same kernel and
	// ledger, every service believed stopped.
	restarted, err := New(exampleServices, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restarted.Close)
	if err := restarted.Stop(ctx); err != nil || len(f.j.get()) != started {
		t.Fatalf("Stop of a fresh Group did %q (err %v): it believes nothing runs", f.j.get()[started:], err)
	}
	if err := restarted.StopLeftovers(ctx); err != nil {
		t.Fatal(err)
	}
	wantStop := []string{"Delay 1 0 stop", "ipsec stop", "del 12.34.56.78", "del 10.6.0.100"}
	if got := f.j.get()[started:]; !slices.Equal(got, wantStop) {
		t.Errorf("StopLeftovers did\n%q\nwant\n%q", got, wantStop)
	}
}
