package server

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/pkg/daemon"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
)

// withLogs gives the server a log ring fed by its own logger, and the
// level SetDebugLogging moves; it returns them.
func withLogs(base slog.Level) (func(*Options), *daemon.LogRing, *slog.LevelVar, *slog.Logger) {
	ring := daemon.NewLogRing(100)
	level := new(slog.LevelVar)
	level.Set(base)
	logger := slog.New(ring.Handler(slog.NewTextHandler(&strings.Builder{}, &slog.HandlerOptions{Level: level})))
	return func(o *Options) { o.Logs, o.LogLevel, o.BaseLogLevel, o.Logger = ring, level, base, logger }, ring, level, logger
}

func (f *fixture) statistics(t *testing.T) map[string]*vrrpv1.GroupStatistics {
	t.Helper()
	resp, err := f.client.ShowStatistics(t.Context(), &vrrpv1.ShowStatisticsRequest{})
	if err != nil {
		t.Fatalf("ShowStatistics: %v", err)
	}
	out := map[string]*vrrpv1.GroupStatistics{}
	for _, g := range resp.Groups {
		out[g.Interface+"/"+itoa(g.Group)] = g
	}
	return out
}

// monitor opens a Monitor stream and waits until the daemon subscribed.
func (f *fixture) monitor(t *testing.T, ctx context.Context, req *vrrpv1.MonitorRequest) grpc.ServerStreamingClient[vrrpv1.MonitorEvent] {
	t.Helper()
	stream, err := f.client.Monitor(ctx, req)
	if err != nil {
		t.Fatalf("Monitor: %v", err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("Monitor headers: %v", err)
	}
	return stream
}

// recvUntil reads events until one satisfies want, failing after
// patience; it returns every event read.
func recvUntil(t *testing.T, stream grpc.ServerStreamingClient[vrrpv1.MonitorEvent], what string, want func(*vrrpv1.MonitorEvent) bool) []*vrrpv1.MonitorEvent {
	t.Helper()
	type result struct {
		ev  *vrrpv1.MonitorEvent
		err error
	}
	var seen []*vrrpv1.MonitorEvent
	deadline := time.After(patience)
	for {
		got := make(chan result, 1)
		go func() { ev, err := stream.Recv(); got <- result{ev, err} }()
		select {
		case r := <-got:
			if r.err != nil {
				t.Fatalf("waiting for %s: %v (read %v)", what, r.err, seen)
			}
			seen = append(seen, r.ev)
			if want(r.ev) {
				return seen
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s (read %v)", what, seen)
		}
	}
}

func isChange(group string, from, to vrrpv1.State) func(*vrrpv1.MonitorEvent) bool {
	return func(ev *vrrpv1.MonitorEvent) bool {
		c := ev.GetStateChange()
		return c != nil && c.Group.Interface+"/"+itoa(c.Group.Group) == group && c.From == from && c.To == to
	}
}

// TestVR_O06_RestartResignsAndStartsEveryGroupFromInit: restart re-reads
// the file, resigns the masters (VR-B12: VIPs gone, a priority-0 advert),
// resets the counters and starts every group from INIT; a monitor sees it
// all.
func TestVR_O06_RestartResignsAndStartsEveryGroupFromInit(t *testing.T) {
	f := newFixture(t, twoGroups)
	f.elect(t)
	stream := f.monitor(t, t.Context(), &vrrpv1.MonitorRequest{})
	if before := f.statistics(t)["eth0/99"]; before.BecameMaster != 1 || before.AdvertsSent == 0 {
		t.Fatalf("before restart: %v", before)
	}

	f.writeConfig(t, strings.Replace(twoGroups, "priority 150 virtual-address 172", "priority 200 virtual-address 172", 1))
	resp, err := f.client.Restart(t.Context(), &vrrpv1.RestartRequest{})
	if err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if len(resp.Diagnostics) != 0 {
		t.Errorf("diagnostics %v for a clean file", resp.Diagnostics)
	}
	for group, st := range f.states(t) {
		if st != vrrpv1.State_STATE_BACKUP {
			t.Errorf("%s is %s after restart, want BACKUP (started again from INIT)", group, st)
		}
	}
	for group, c := range f.statistics(t) {
		if c.BecameMaster != 0 || c.PriorityZeroSent != 0 {
			t.Errorf("%s counters not reset by restart: %v", group, c)
		}
	}
	if got := priorityOf(t, f, "eth0"); got != 200 {
		t.Errorf("priority %d after restart, want 200 from the file", got)
	}
	if k := f.kern.String(); strings.Contains(k, "172.16.0.24") || strings.Contains(k, "10.0.0.1/24") {
		t.Errorf("VIPs left after the masters resigned:\n%s", k)
	}
	// eth1/10 follows its sync group to BACKUP first, then stops.
	recvUntil(t, stream, "eth0/99 resigned", isChange("eth0/99", vrrpv1.State_STATE_MASTER, vrrpv1.State_STATE_INIT))
	recvUntil(t, stream, "eth1/10 stopped", isChange("eth1/10", vrrpv1.State_STATE_BACKUP, vrrpv1.State_STATE_INIT))
	recvUntil(t, stream, "a group started again", func(ev *vrrpv1.MonitorEvent) bool {
		c := ev.GetStateChange()
		return c != nil && c.From == vrrpv1.State_STATE_INIT && c.To == vrrpv1.State_STATE_BACKUP
	})
	f.elect(t) // it runs as before
}

func TestVR_O06_RestartRefusesABadFileAndChangesNothing(t *testing.T) {
	f := newFixture(t, twoGroups)
	f.elect(t)
	before := f.statistics(t)["eth0/99"].BecameMaster

	f.writeConfig(t, strings.Replace(twoGroups, "priority 150 virtual-address 172", "priority 300 virtual-address 172", 1))
	_, err := f.client.Restart(t.Context(), &vrrpv1.RestartRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), f.configFile+":2:") ||
		!strings.Contains(err.Error(), "nothing restarted") {
		t.Fatalf("Restart of a bad file: %v; want FailedPrecondition naming %s:2 and that nothing restarted", err, f.configFile)
	}
	for group, st := range f.states(t) {
		if st != vrrpv1.State_STATE_MASTER {
			t.Errorf("%s is %s after a refused restart, want MASTER kept", group, st)
		}
	}
	if got := f.statistics(t)["eth0/99"].BecameMaster; got != before {
		t.Errorf("became master %d after a refused restart, want %d kept", got, before)
	}
	if got := priorityOf(t, f, "eth0"); got != 150 {
		t.Errorf("priority %d, want 150 kept", got)
	}
}

func TestVR_O08_ShowLog(t *testing.T) {
	withRing, _, _, logger := withLogs(slog.LevelInfo)
	f := newFixture(t, twoGroups, withRing)
	logger.Debug("not logged at info")
	for _, m := range []string{"one", "two", "three"} {
		logger.Info(m, "group", "eth0/99")
	}
	tests := []struct {
		lines uint32
		want  []string
	}{{0, []string{"one", "two", "three"}}, {2, []string{"two", "three"}}, {10, []string{"one", "two", "three"}}}
	for _, tt := range tests {
		resp, err := f.client.ShowLog(t.Context(), &vrrpv1.ShowLogRequest{Lines: tt.lines})
		if err != nil {
			t.Fatalf("ShowLog: %v", err)
		}
		var got []string
		for _, r := range resp.Records {
			got = append(got, r.Message)
			if r.Level != "INFO" || r.Time == nil || len(r.Attrs) != 1 || r.Attrs[0].Key != "group" || r.Attrs[0].Value != "eth0/99" {
				t.Errorf("record %v", r)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ShowLog(lines %d) = %v, want %v", tt.lines, got, tt.want)
		}
	}

	bare := newFixture(t, twoGroups)
	if _, err := bare.client.ShowLog(t.Context(), &vrrpv1.ShowLogRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("ShowLog without a ring: %v, want FailedPrecondition", err)
	}
}

func TestVR_O09_SetDebugLogging(t *testing.T) {
	tests := []struct {
		name    string
		base    slog.Level
		enabled bool
		want    slog.Level
	}{
		{"on", slog.LevelInfo, true, slog.LevelDebug},
		{"off returns to --log-level", slog.LevelWarn, false, slog.LevelWarn},
		{"off from --log-level debug is info", slog.LevelDebug, false, slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withRing, ring, level, _ := withLogs(tt.base)
			f := newFixture(t, twoGroups, withRing)
			if _, err := f.client.SetDebugLogging(t.Context(), &vrrpv1.SetDebugLoggingRequest{Enabled: tt.enabled}); err != nil {
				t.Fatalf("SetDebugLogging: %v", err)
			}
			if level.Level() != tt.want {
				t.Errorf("level %v, want %v", level.Level(), tt.want)
			}
			if last := ring.Last(1); len(last) != 1 || last[0].Message != "log level changed" {
				t.Errorf("the change is not in the log: %v", last)
			}
		})
	}
	bare := newFixture(t, twoGroups)
	if _, err := bare.client.SetDebugLogging(t.Context(), &vrrpv1.SetDebugLoggingRequest{Enabled: true}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("without a level: %v, want FailedPrecondition", err)
	}
}

// TestVR_O09_MonitorFiltersAndEnds: a filtered stream carries that group's
// changes and the log records of that group or of none; the daemon's
// subscription ends with the client, and the stream ends with the daemon.
func TestVR_O09_MonitorFiltersAndEnds(t *testing.T) {
	withRing, _, _, logger := withLogs(slog.LevelInfo)
	f := newFixture(t, twoGroups, withRing)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream := f.monitor(t, ctx, &vrrpv1.MonitorRequest{Filter: &vrrpv1.GroupFilter{Interface: "eth1"}, Debug: true})
	if !logger.Enabled(t.Context(), slog.LevelDebug) {
		t.Error("a debug monitor does not enable debug records")
	}
	logger.Info("about eth0", "group", "eth0/99")
	logger.Debug("about eth1", "group", "eth1/10")
	logger.Info("about the daemon")
	f.elect(t)
	seen := recvUntil(t, stream, "eth1/10 master", isChange("eth1/10", vrrpv1.State_STATE_BACKUP, vrrpv1.State_STATE_MASTER))
	var logs []string
	for _, ev := range seen {
		if c := ev.GetStateChange(); c != nil && c.Group.Interface != "eth1" {
			t.Errorf("filtered stream carries %v", c)
		}
		if r := ev.GetLog(); r != nil {
			logs = append(logs, r.Message)
		}
	}
	if !slices.Equal(logs, []string{"about eth1", "about the daemon"}) {
		t.Errorf("log records %q, want those of eth1 and of no group, debug included", logs)
	}

	cancel()
	deadline := time.Now().Add(patience)
	for logger.Enabled(t.Context(), slog.LevelDebug) {
		if time.Now().After(deadline) {
			t.Fatal("the daemon kept the debug subscription of a cancelled monitor")
		}
		time.Sleep(time.Millisecond)
	}

	other := f.monitor(t, t.Context(), &vrrpv1.MonitorRequest{})
	f.stop()
	if _, err := other.Recv(); err == nil {
		t.Error("the stream goes on after the server stopped")
	}
}

func TestVR_O09_MonitorRejectsGroupWithoutInterface(t *testing.T) {
	f := newFixture(t, twoGroups)
	stream, err := f.client.Monitor(t.Context(), &vrrpv1.MonitorRequest{Filter: &vrrpv1.GroupFilter{Group: 10}})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Monitor with a group and no interface: %v, want InvalidArgument", err)
	}
}

// TestVR_O07_InterfacesShowTheKernelsMTUAndCounters: the macvlan's in RFC
// 3768 mode, the parent's in legacy mode, whose addresses are then only
// the group's VIPs.
func TestVR_O07_InterfacesShowTheKernelsMTUAndCounters(t *testing.T) {
	f := newFixture(t, twoGroups)
	f.elect(t)
	stats := func(base uint64) kernel.LinkStats {
		return kernel.LinkStats{RxPackets: base + 1, RxBytes: base + 2, RxErrors: base + 3, RxDropped: base + 4,
			TxPackets: base + 5, TxBytes: base + 6, TxErrors: base + 7, TxDropped: base + 8}
	}
	if err := f.kern.SetLinkStats("eth0", 9000, stats(100)); err != nil {
		t.Fatal(err)
	}
	if err := f.kern.SetLinkStats("eth1v10", 1400, stats(200)); err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.ShowInterfaces(t.Context(), &vrrpv1.ShowInterfacesRequest{})
	if err != nil {
		t.Fatalf("ShowInterfaces: %v", err)
	}
	want := []struct {
		name, parent, mac string
		mtu               uint32
		base              uint64
		addrs             []string
	}{
		{"eth1v10", "eth1", "00:00:5e:00:01:0a", 1400, 200, []string{"10.0.0.1/24"}},
	}
	if len(resp.Interfaces) != len(want) {
		t.Fatalf("interfaces %v, want %d", resp.Interfaces, len(want))
	}
	for i, w := range want {
		got := resp.Interfaces[i]
		c := got.Counters
		if got.Name != w.name || got.Parent != w.parent || got.Mac != w.mac || got.Mtu != w.mtu || !got.AdminUp || !got.LinkUp ||
			!slices.Equal(got.Addresses, w.addrs) || c.RxPackets != w.base+1 || c.RxDropped != w.base+4 || c.TxPackets != w.base+5 || c.TxDropped != w.base+8 {
			t.Errorf("interface %d: %v\nwant %+v", i, got, w)
		}
	}
	one, err := f.client.ShowInterfaces(t.Context(), &vrrpv1.ShowInterfacesRequest{Name: "eth1v10"})
	if err != nil || len(one.Interfaces) != 1 || one.Interfaces[0].Group != 10 {
		t.Errorf("ShowInterfaces(eth1v10) = %v, %v", one, err)
	}
	if _, err := f.client.ShowInterfaces(t.Context(), &vrrpv1.ShowInterfacesRequest{Name: "eth0"}); status.Code(err) != codes.NotFound {
		t.Errorf("ShowInterfaces(eth0), a legacy group's parent: %v, want NotFound", err)
	}
}

// A client that does not read makes the daemon drop its events, never
// wait: logging goes on at full speed, and once the client reads it is
// told how many it lost.
func TestVR_O09_SlowMonitorClientLosesEventsNotTheDaemon(t *testing.T) {
	withRing, _, _, logger := withLogs(slog.LevelInfo)
	f := newFixture(t, twoGroups, withRing)
	stream := f.monitor(t, t.Context(), &vrrpv1.MonitorRequest{})
	// Far more than the stream's buffers and gRPC's flow-control window
	// hold.
	padding := strings.Repeat("x", 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5000 {
			logger.Info("flood", "i", i, "padding", padding)
		}
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("logging blocked on a monitor client that does not read")
	}
	recvUntil(t, stream, "the dropped events report", func(ev *vrrpv1.MonitorEvent) bool {
		return strings.HasPrefix(ev.GetLog().GetMessage(), "monitor: events dropped")
	})
}
