package server

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/engine"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
	"github.com/hasuite/hasuite/vrrpd/internal/netio"
)

// patience bounds every wait on a condition; nothing should take near it.
const patience = 20 * time.Second

// twoGroups: group 99 on eth0 and group 10 on eth1, both in sync group
// LAN, eth1's in RFC 3768 mode.
const twoGroups = `interfaces {
	ethernet eth0 { vrrp { vrrp-group 99 { priority 150 virtual-address 172.16.0.24/24 sync-group LAN } } }
	ethernet eth1 { vrrp { vrrp-group 10 { priority 150 virtual-address 10.0.0.1/24 sync-group LAN rfc3768-compatibility } } }
}
`

// fixture is an engine on a fake kernel and links, served over a real
// unix socket.
type fixture struct {
	clk        *clock.Fake
	kern       *kernel.Fake
	configFile string
	client     vrrpv1.VrrpClient
	server     *Server
	// stop stops the gRPC server, ending every stream.
	stop func()
}

// newFixture serves src; with extra, a test adds to the server's Options
// (ops_test.go: logs and log level).
func newFixture(t *testing.T, src string, extra ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), kern: kernel.NewFake()}
	addrs := map[string]netip.Prefix{
		"eth0": netip.MustParsePrefix("192.0.2.1/24"),
		"eth1": netip.MustParsePrefix("198.51.100.1/24"),
	}
	links := map[string]*netio.FakeLink{}
	for i, name := range []string{"eth0", "eth1"} {
		f.kern.AddInterface(name, net.HardwareAddr{2, 0, 0, 0, 1, byte(i)}, addrs[name])
		links[name] = netio.NewFakeLink()
	}
	eng := engine.New(engine.Options{
		Clock:  f.clk,
		Kernel: f.kern,
		OpenAdverts: func(g config.Group, _ netip.Addr) (netio.AdvertConn, error) {
			return links[g.Interface].Attach(addrs[g.Interface].Addr(), 1), nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("engine Run: %v", err)
		}
	})

	f.configFile = filepath.Join(t.TempDir(), "vrrpd.conf")
	f.writeConfig(t, src)
	cfg, err := config.Load(f.configFile)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := eng.Apply(t.Context(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	socket := filepath.Join(t.TempDir(), "vrrpd.sock")
	lis, err := bus.Listen(socket)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	srv := bus.NewServer(socket, nil)
	opts := Options{Kernel: f.kern, ConfigFile: f.configFile, ScriptsDir: t.TempDir(), Current: cfg}
	for _, fn := range extra {
		fn(&opts)
	}
	f.server = New(eng, opts)
	vrrpv1.RegisterVrrpServer(srv, f.server)
	f.stop = srv.Stop
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := bus.Dial(t.Context(), socket)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f.client = vrrpv1.NewVrrpClient(conn)
	return f
}

func (f *fixture) writeConfig(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(f.configFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) states(t *testing.T) map[string]vrrpv1.State {
	t.Helper()
	resp, err := f.client.ShowVrrp(t.Context(), &vrrpv1.ShowVrrpRequest{})
	if err != nil {
		t.Fatalf("ShowVrrp: %v", err)
	}
	out := map[string]vrrpv1.State{}
	for _, g := range resp.Groups {
		out[g.Interface+"/"+itoa(g.Group)] = g.State
	}
	return out
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// waitAll waits until every group is in state want.
func (f *fixture) waitAll(t *testing.T, want vrrpv1.State) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		states := f.states(t)
		all := len(states) > 0
		for _, s := range states {
			all = all && s == want
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for every group to be %s: %v", want, states)
		}
		time.Sleep(time.Millisecond)
	}
}

// elect makes this lone router master of both groups: nobody advertises,
// so Master_Down (3 s + skew) expires.
func (f *fixture) elect(t *testing.T) {
	t.Helper()
	f.waitAll(t, vrrpv1.State_STATE_BACKUP)
	f.clk.Advance(4 * time.Second)
	f.waitAll(t, vrrpv1.State_STATE_MASTER)
}

func TestShowVrrpFilters(t *testing.T) {
	f := newFixture(t, twoGroups)
	f.elect(t)
	tests := []struct {
		name   string
		filter *vrrpv1.GroupFilter
		want   []string
		code   codes.Code
	}{
		{"all, sorted by interface", nil, []string{"eth0/99", "eth1/10"}, codes.OK},
		{"one interface", &vrrpv1.GroupFilter{Interface: "eth1"}, []string{"eth1/10"}, codes.OK},
		{"interface and group", &vrrpv1.GroupFilter{Interface: "eth0", Group: 99}, []string{"eth0/99"}, codes.OK},
		{"unknown group", &vrrpv1.GroupFilter{Interface: "eth0", Group: 7}, nil, codes.NotFound},
		{"unknown interface", &vrrpv1.GroupFilter{Interface: "eth9"}, nil, codes.NotFound},
		{"group without interface", &vrrpv1.GroupFilter{Group: 99}, nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.client.ShowVrrp(t.Context(), &vrrpv1.ShowVrrpRequest{Filter: tt.filter})
			if status.Code(err) != tt.code {
				t.Fatalf("ShowVrrp: %v, want code %v", err, tt.code)
			}
			var got []string
			for _, g := range resp.GetGroups() {
				got = append(got, g.Interface+"/"+itoa(g.Group))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("groups %v, want %v", got, tt.want)
			}
		})
	}

	resp, err := f.client.ShowVrrp(t.Context(), &vrrpv1.ShowVrrpRequest{Filter: &vrrpv1.GroupFilter{Interface: "eth1"}})
	if err != nil {
		t.Fatal(err)
	}
	g := resp.Groups[0]
	if g.Priority != 150 || !g.Rfc3768Compatibility || g.VmacInterface != "eth1v10" || g.SyncGroup != "LAN" ||
		!slices.Equal(g.VirtualAddresses, []string{"10.0.0.1/24"}) || g.GetAdvertiseInterval().AsDuration() != time.Second {
		t.Errorf("group message does not carry the configuration: %v", g)
	}
	if g.LastTakeover == nil || g.Master.GetPriority() != 150 {
		t.Errorf("master group without takeover or master: %v", g)
	}
}

func TestShowStatisticsSyncGroupsAndInterfaces(t *testing.T) {
	f := newFixture(t, twoGroups)
	f.elect(t)

	stats, err := f.client.ShowStatistics(t.Context(), &vrrpv1.ShowStatisticsRequest{})
	if err != nil {
		t.Fatalf("ShowStatistics: %v", err)
	}
	if len(stats.Groups) != 2 || stats.Groups[0].BecameMaster != 1 || stats.Groups[0].AdvertsSent == 0 {
		t.Errorf("statistics %v: want two groups, each master once and advertising", stats.Groups)
	}

	syncs, err := f.client.ShowSyncGroups(t.Context(), &vrrpv1.ShowSyncGroupsRequest{})
	if err != nil {
		t.Fatalf("ShowSyncGroups: %v", err)
	}
	if len(syncs.SyncGroups) != 1 || syncs.SyncGroups[0].Name != "LAN" || len(syncs.SyncGroups[0].Members) != 2 ||
		syncs.SyncGroups[0].State != vrrpv1.State_STATE_MASTER {
		t.Errorf("sync groups %v: want LAN, MASTER, with two members", syncs.SyncGroups)
	}
	if _, err := f.client.ShowSyncGroups(t.Context(), &vrrpv1.ShowSyncGroupsRequest{Name: "WAN"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown sync group: %v, want NotFound", err)
	}

	ifaces, err := f.client.ShowInterfaces(t.Context(), &vrrpv1.ShowInterfacesRequest{})
	if err != nil {
		t.Fatalf("ShowInterfaces: %v", err)
	}
	if len(ifaces.Interfaces) != 1 {
		t.Fatalf("interfaces %v: want only eth1v10 (VR-O07: a legacy group has no VRRP interface)", ifaces.Interfaces)
	}
	vif := ifaces.Interfaces[0]
	if vif.Name != "eth1v10" || vif.Parent != "eth1" || vif.Mac != "00:00:5e:00:01:0a" || !slices.Contains(vif.Addresses, "10.0.0.1/24") {
		t.Errorf("interface %v: want eth1v10 on eth1 with the vMAC and the VIP", vif)
	}
}

func TestResetMaster(t *testing.T) {
	f := newFixture(t, twoGroups)
	ref := &vrrpv1.GroupRef{Interface: "eth0", Group: 99}

	if _, err := f.client.ResetMaster(t.Context(), &vrrpv1.ResetMasterRequest{Group: ref}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("reset of a BACKUP group: %v, want FailedPrecondition", err)
	}
	unknown := &vrrpv1.GroupRef{Interface: "eth0", Group: 7}
	if _, err := f.client.ResetMaster(t.Context(), &vrrpv1.ResetMasterRequest{Group: unknown}); status.Code(err) != codes.NotFound {
		t.Errorf("reset of an unknown group: %v, want NotFound", err)
	}
	if _, err := f.client.ResetMaster(t.Context(), &vrrpv1.ResetMasterRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("reset without a group: %v, want InvalidArgument", err)
	}

	f.elect(t)
	resp, err := f.client.ResetMaster(t.Context(), &vrrpv1.ResetMasterRequest{Group: ref})
	if err != nil {
		t.Fatalf("ResetMaster: %v", err)
	}
	var released []string
	for _, r := range resp.Released {
		released = append(released, r.Interface+"/"+itoa(r.Group))
	}
	if !slices.Equal(released, []string{"eth0/99", "eth1/10"}) {
		t.Errorf("released %v, want the group then its sync group's other member", released)
	}
	f.waitAll(t, vrrpv1.State_STATE_BACKUP)
}

func TestReloadAppliesOnlyValidConfig(t *testing.T) {
	f := newFixture(t, twoGroups)

	f.writeConfig(t, strings.Replace(twoGroups, "priority 150 virtual-address 172", "priority 300 virtual-address 172", 1))
	resp, err := f.client.Reload(t.Context(), &vrrpv1.ReloadRequest{})
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if resp.Applied || len(resp.Diagnostics) == 0 {
		t.Fatalf("invalid config: applied %v, diagnostics %v; want not applied with an error", resp.Applied, resp.Diagnostics)
	}
	d := resp.Diagnostics[0]
	if d.Severity != vrrpv1.Severity_SEVERITY_ERROR || d.File != f.configFile || d.Line != 2 || d.Column == 0 {
		t.Errorf("diagnostic %v: want an error at %s line 2", d, f.configFile)
	}
	if got := priorityOf(t, f, "eth0"); got != 150 {
		t.Errorf("priority %d after a failed reload, want 150 kept", got)
	}

	f.writeConfig(t, strings.Replace(twoGroups, "priority 150 virtual-address 172", "priority 200 virtual-address 172", 1))
	resp, err = f.client.Reload(t.Context(), &vrrpv1.ReloadRequest{})
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !resp.Applied || !slices.Equal(resp.Changes, []string{"eth0/99: changed"}) {
		t.Errorf("valid config: applied %v, changes %v; want applied, eth0/99 changed", resp.Applied, resp.Changes)
	}
	if got := priorityOf(t, f, "eth0"); got != 200 {
		t.Errorf("priority %d after reload, want 200", got)
	}

	os.Remove(f.configFile)
	if _, err := f.client.Reload(t.Context(), &vrrpv1.ReloadRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("reload of a missing file: %v, want FailedPrecondition", err)
	}
}

func priorityOf(t *testing.T, f *fixture, ifname string) uint32 {
	t.Helper()
	resp, err := f.client.ShowVrrp(t.Context(), &vrrpv1.ShowVrrpRequest{Filter: &vrrpv1.GroupFilter{Interface: ifname}})
	if err != nil {
		t.Fatalf("ShowVrrp: %v", err)
	}
	return resp.Groups[0].Priority
}

func TestValidate(t *testing.T) {
	f := newFixture(t, twoGroups)
	tests := []struct {
		name, file, text string
		// want is each diagnostic as "severity file:line" (line 0: no place).
		want []string
	}{
		{"valid", "r1.conf", twoGroups, nil},
		{"error with its place", "", "interfaces { ethernet eth0 { vrrp { vrrp-group 99 { priority 0 virtual-address 172.16.0.24/24 } } } }",
			[]string{"SEVERITY_ERROR vrrpd.conf:1"}},
		{"missing transition script", "r1.conf", `interfaces { ethernet eth0 { vrrp { vrrp-group 99 {
			virtual-address 172.16.0.24/24 run-transition-scripts { master no-such-script.sh } } } } }`,
			[]string{"SEVERITY_ERROR r1.conf:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.client.Validate(t.Context(), &vrrpv1.ValidateRequest{Text: tt.text, File: tt.file})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var got []string
			for _, d := range resp.Diagnostics {
				got = append(got, d.Severity.String()+" "+d.File+":"+itoa(d.Line))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics %v, want %v", resp.Diagnostics, tt.want)
			}
		})
	}
}
