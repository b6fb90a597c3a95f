package show

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current renderings")

// now is the fixed "current time" of every rendering.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }

// checkGolden compares got with testdata/<TestName>.golden (subtest
// slashes become underscores); -update rewrites the file.
func checkGolden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("rendering differs from %s (go test -update if the change is deliberate)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// asPrinted compares got with a guide example as printed, line by line,
// blank lines included, ignoring leading blanks: the PDF extraction lost
// the indentation of some holder lines (CL-Q07), which the golden files
// pin instead.
func asPrinted(t *testing.T, got, printed string) {
	t.Helper()
	trim := func(s string) []string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimLeft(l, " ")
		}
		return lines
	}
	g, w := trim(got), trim(printed)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("rendering does not match the guide's example\ngot:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// The guide's status examples (5833-5921), without the prompt line. Their
// addresses come from another lab than Example 3-4 (CL-Q08); the inputs
// below use them as printed.
const (
	example3_6 = `=== Status report on primary node R1 ===

Primary R1 (this node): Active

Secondary R2: Active (standby)

Monitor 10.6.0.55: Reachable
Monitor 10.1.0.1: Reachable

Resources [10.6.0.100 10.1.0.170 ipsec]:
  Active on primary R1 (this node)
`
	example3_7 = `=== Status report on secondary node R2 ===

Primary R1: Active

Secondary R2 (this node): Active (standby)

Monitor 10.6.0.55: Reachable
Monitor 10.1.0.1: Reachable

Resources [10.6.0.100 10.1.0.170 ipsec]:
Active on primary R1
`
	example3_8 = `=== Status report on primary node R1 ===

Primary R1 (this node): Down (at least 1 monitor not reachable)

Secondary R2: Active

Monitor 10.6.0.55: Unreachable
Monitor 10.1.0.1: Reachable

Resources [10.6.0.100 10.1.0.170 ipsec]:
Active on secondary R2
`
	// Example 3-9 as the spec joins the guide's two blocks.
	example3_9 = `=== Status report on secondary node R2 ===

Primary R1: Down (at least 1 monitor node not reachable)

Secondary R2 (this node): Active

Monitor 10.6.0.55: Reachable
Monitor 10.1.0.1: Reachable

Resources [10.6.0.100 10.1.0.170 ipsec]:
  Active on secondary R2 (this node)
`
	example3_10 = `=== Status report on secondary node R2 ===

Primary R1: Down

Secondary R2(this node): Active

Monitor 10.6.0.55: Reachable
Monitor 10.1.0.1: Reachable

Resources [10.6.0.100 10.1.0.170 ipsec]:
  Active on secondary R2 (this node)
`
)

var guideResources = []string{"10.6.0.100", "10.1.0.170", "ipsec"}

func monitors(reachable ...bool) []*clusterv1.Monitor {
	var out []*clusterv1.Monitor
	for i, addr := range []string{"10.6.0.55", "10.1.0.1"} {
		m := &clusterv1.Monitor{Address: addr, Reachable: reachable[i]}
		if reachable[i] {
			m.LastReply = ago(1200 * time.Millisecond)
		} else {
			m.LastReply = ago(25 * time.Second)
		}
		out = append(out, m)
	}
	return out
}

// status builds the guide's cluster as seen from local (R1 or R2).
func status(local string, r1, r2 clusterv1.NodeState, mons []*clusterv1.Monitor, res clusterv1.ResourceState, holder string) *clusterv1.Status {
	role := map[string]clusterv1.Role{"R1": clusterv1.Role_ROLE_PRIMARY, "R2": clusterv1.Role_ROLE_SECONDARY}
	s := &clusterv1.Status{
		Enabled:   true,
		Group:     "cluster1",
		LocalNode: local,
		LocalRole: role[local],
		Primary:   &clusterv1.Node{Name: "R1", Role: clusterv1.Role_ROLE_PRIMARY, ThisNode: local == "R1", State: r1},
		Secondary: &clusterv1.Node{Name: "R2", Role: clusterv1.Role_ROLE_SECONDARY, ThisNode: local == "R2", State: r2},
		Monitors:  mons,
		Resources: &clusterv1.Resources{
			Names: guideResources, State: res, Holder: holder, HolderRole: role[holder], HolderIsThisNode: holder != "" && holder == local,
		},
	}
	return s
}

const (
	active  = clusterv1.NodeState_NODE_STATE_ACTIVE
	standby = clusterv1.NodeState_NODE_STATE_ACTIVE_STANDBY
	down    = clusterv1.NodeState_NODE_STATE_DOWN
	downMon = clusterv1.NodeState_NODE_STATE_DOWN_MONITOR
	unknown = clusterv1.NodeState_NODE_STATE_UNKNOWN

	resActive    = clusterv1.ResourceState_RESOURCE_STATE_ACTIVE
	resStarting  = clusterv1.ResourceState_RESOURCE_STATE_STARTING
	resStopping  = clusterv1.ResourceState_RESOURCE_STATE_STOPPING
	resNotActive = clusterv1.ResourceState_RESOURCE_STATE_NOT_ACTIVE
)

// TestCL_O01_Status: the guide's Examples 3-6 to 3-10 and the states the
// guide does not show, each against its golden file; the examples also
// against the guide's text.
func TestCL_O01_Status(t *testing.T) {
	tests := []struct {
		name    string
		status  *clusterv1.Status
		printed string // the guide's text, if an example
		fix     func(string) string
	}{
		{name: "Example3_6_PrimaryActive_PrimaryView", printed: example3_6,
			status: status("R1", active, standby, monitors(true, true), resActive, "R1")},
		{name: "Example3_7_PrimaryActive_SecondaryView", printed: example3_7,
			status: status("R2", active, standby, monitors(true, true), resActive, "R1")},
		{name: "Example3_8_PrimaryLostMonitor_PrimaryView", printed: example3_8,
			status: status("R1", downMon, active, monitors(false, true), resActive, "R2")},
		{name: "Example3_9_PrimaryLostMonitor_SecondaryView", printed: example3_9,
			status: status("R2", downMon, active, monitors(true, true), resActive, "R2")},
		{name: "Example3_10_PrimaryDead_SecondaryView", printed: example3_10,
			status: status("R2", down, active, monitors(true, true), resActive, "R2"),
			// CL-Q07: always a space before "(this node)".
			fix: func(s string) string { return strings.Replace(s, "R2(this node)", "R2 (this node)", 1) }},
		{name: "PeerNeverHeard_WaitingForPeer",
			status: func() *clusterv1.Status {
				s := status("R1", standby, unknown, monitors(true, true), resNotActive, "")
				s.WaitingForPeer = durationpb.New(87 * time.Second)
				return s
			}()},
		{name: "StartingOnPrimary",
			status: status("R1", active, standby, monitors(true, true), resStarting, "R1")},
		{name: "StoppingOnSecondary_Failback",
			status: status("R1", standby, active, monitors(true, true), resStopping, "R2")},
		{name: "NotActive_BothLostMonitor",
			status: status("R2", downMon, downMon, monitors(false, false), resNotActive, "")},
		{name: "NoMonitors",
			status: status("R2", active, standby, nil, resActive, "R1")},
		{name: "NeitherPrimaryNorSecondary",
			status: func() *clusterv1.Status {
				s := status("R3", unknown, unknown, monitors(true, true), resNotActive, "")
				s.LocalRole = clusterv1.Role_ROLE_NONE
				s.NotRunningReason = "This node R3 is neither primary R1 nor secondary R2: the group does not run here."
				return s
			}()},
		{name: "NotConfigured", status: &clusterv1.Status{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Status(tt.status)
			checkGolden(t, got)
			if tt.printed != "" {
				printed := tt.printed
				if tt.fix != nil {
					printed = tt.fix(printed)
				}
				asPrinted(t, got, printed)
			}
		})
	}
}

// TestCL_O01_HolderAlwaysIndented: the canonical holder line has two
// spaces whatever the guide's extraction printed (CL-Q07).
func TestCL_O01_HolderAlwaysIndented(t *testing.T) {
	for _, res := range []clusterv1.ResourceState{resActive, resStarting, resStopping, resNotActive} {
		for _, local := range []string{"R1", "R2"} {
			holder := "R1"
			if res == resNotActive {
				holder = ""
			}
			out := Status(status(local, active, standby, nil, res, holder))
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "  ") || strings.HasPrefix(last, "   ") {
				t.Errorf("%v seen from %s: holder line %q is not indented by two spaces", res, local, last)
			}
		}
	}
}

// TestCL_Q09_StatusJSON: what the text leaves out is in --json.
func TestCL_Q09_StatusJSON(t *testing.T) {
	s := status("R1", standby, unknown, monitors(true, true), resNotActive, "")
	s.WaitingForPeer = durationpb.New(87 * time.Second)
	s.LastFailover = &clusterv1.Failover{Time: ago(time.Hour), FromNode: "R1", ToNode: "R2", Reason: "peer R1 dead: no heartbeat for 10s"}
	s.SplitBrains = []*clusterv1.SplitBrain{{Time: ago(10 * time.Minute), KeptBy: "R2", ReleasedBy: "R1", Rule: "acquired earlier"}}
	s.Resources.Services = []*clusterv1.Service{{
		Name: "ipsec", Spec: "ipsec", Kind: clusterv1.ServiceKind_SERVICE_KIND_INIT,
		State: clusterv1.ServiceState_SERVICE_STATE_START_FAILED, Error: "exit status 1", Output: "ipsec: no such file",
	}}
	out, err := JSON(&clusterv1.ShowStatusResponse{Status: s})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status struct {
			WaitingForPeer string
			LastFailover   struct{ Reason string }
			SplitBrains    []struct{ KeptBy string }
			Resources      struct {
				State    string
				Services []struct{ State, Output string }
			}
			Secondary struct{ State string }
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st := got.Status
	if st.WaitingForPeer != "87s" || st.LastFailover.Reason == "" || len(st.SplitBrains) != 1 ||
		st.Resources.State != "RESOURCE_STATE_NOT_ACTIVE" || st.Resources.Services[0].State != "SERVICE_STATE_START_FAILED" ||
		st.Resources.Services[0].Output != "ipsec: no such file" || st.Secondary.State != "NODE_STATE_UNKNOWN" {
		t.Errorf("JSON lacks fields:\n%s", out)
	}
}

// guideNodes: R1 with the guide's 12.34.56.10 (4811) and a LAN address in
// 10.6.0.0/24; R2's addresses are made up in the same subnets.
func guideNodes(local string) []*clusterv1.Node {
	const hash = "a90a4396d55ad8e656d3e6ab681e00ba6bef679912cf0d99e2f59100c4e411eb"
	r1 := &clusterv1.Node{
		Name: "R1", Role: clusterv1.Role_ROLE_PRIMARY, State: active,
		Uid: "6f1c2a4e-0b7d-4c39-9a51-2d8e7f3b9c10", BootId: "0d3f", Addresses: []string{"12.34.56.10", "10.6.0.10"},
		ConfigHash: hash, MonitorsReachable: 2, MonitorsTotal: 2,
	}
	r2 := &clusterv1.Node{
		Name: "R2", Role: clusterv1.Role_ROLE_SECONDARY, State: standby,
		Uid: "c4b7e9d2-53a1-4f6e-8e27-91d0a6b5f3c8", BootId: "77aa", Addresses: []string{"12.34.56.20", "10.6.0.20"},
		ConfigHash: hash, MonitorsReachable: 2, MonitorsTotal: 2,
	}
	links := func(peer1, peer2 string) []*clusterv1.Link {
		return []*clusterv1.Link{
			{Interface: "eth0", State: clusterv1.LinkState_LINK_STATE_UP, PeerAddress: peer1, LastHeard: ago(1400 * time.Millisecond)},
			{Interface: "eth1", State: clusterv1.LinkState_LINK_STATE_DOWN, PeerAddress: peer2, LastHeard: ago(3*time.Minute + 12*time.Second)},
		}
	}
	if local == "R1" {
		r1.ThisNode = true
		r1.Links = []*clusterv1.Link{{Interface: "eth0"}, {Interface: "eth1"}}
		r2.LastHeard = ago(1400 * time.Millisecond)
		r2.Links = links("12.34.56.20", "10.6.0.20")
	} else {
		r2.ThisNode = true
		r2.Links = []*clusterv1.Link{{Interface: "eth0"}, {Interface: "eth1"}}
		r1.LastHeard = ago(1400 * time.Millisecond)
		r1.Links = links("12.34.56.10", "10.6.0.10")
	}
	return []*clusterv1.Node{r1, r2}
}

// TestNodes renders `show cluster nodes`.
func TestNodes(t *testing.T) {
	neverHeard := guideNodes("R1")
	p := neverHeard[1]
	p.State, p.Uid, p.BootId, p.Addresses, p.LastHeard, p.ConfigHash, p.MonitorsReachable, p.MonitorsTotal = unknown, "", "", nil, nil, "", 0, 0
	p.Links = []*clusterv1.Link{
		{Interface: "eth0", State: clusterv1.LinkState_LINK_STATE_UNKNOWN},
		{Interface: "eth1", State: clusterv1.LinkState_LINK_STATE_NO_INTERFACE},
	}
	tests := []struct {
		name  string
		nodes []*clusterv1.Node
	}{
		{"PrimaryView_OneLinkDown", guideNodes("R1")},
		{"SecondaryView", guideNodes("R2")},
		{"PeerNeverHeard", neverHeard},
		{"NotConfigured", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkGolden(t, Nodes(tt.nodes, now)) })
	}
}

// TestStatistics renders `show cluster statistics`.
func TestStatistics(t *testing.T) {
	busy := &clusterv1.ShowStatisticsResponse{
		Group: "cluster1", LocalNode: "R2", Since: ago(26*time.Hour + 5*time.Minute),
		Heartbeats: &clusterv1.HeartbeatStatistics{
			Sent: 93750, Received: 93601, AuthFailures: 12, Replays: 3, Malformed: 1, UnknownSender: 2, SendErrors: 4, ConfigMismatches: 0,
		},
		Links: []*clusterv1.LinkStatistics{
			{Interface: "eth0", State: clusterv1.LinkState_LINK_STATE_UP, Sent: 46875, SendErrors: 0, Received: 46850, AuthFailures: 12,
				FirstHeard: ago(26 * time.Hour), AliveSince: ago(2 * time.Hour), LastHeard: ago(900 * time.Millisecond), TimesDown: 1},
			{Interface: "eth1", State: clusterv1.LinkState_LINK_STATE_DOWN, Sent: 46871, SendErrors: 4, Received: 46751,
				FirstHeard: ago(26 * time.Hour), AliveSince: nil, LastHeard: ago(42 * time.Second), TimesDown: 2},
		},
		Monitors: []*clusterv1.MonitorStatistics{
			{Address: "10.6.0.55", Reachable: true, State: clusterv1.MonitorState_MONITOR_STATE_REACHABLE,
				PingsSent: 46875, Replies: 46870, TimesUnreachable: 0, LastReply: ago(1100 * time.Millisecond)},
			{Address: "96.97.98.99", Reachable: false, State: clusterv1.MonitorState_MONITOR_STATE_UNREACHABLE,
				PingsSent: 46875, Replies: 40001, TimesUnreachable: 1, LastReply: ago(5 * time.Minute)},
		},
		Takeovers: 1, Releases: 0, PeerDeclaredDead: 1, SplitBrains: 1, ServiceStartFailures: 0, ServiceStopFailures: 0, GateDeadlinesMissed: 0,
		Failovers: []*clusterv1.Failover{
			{Time: ago(26 * time.Hour), ToNode: "R1", Reason: "initial start"},
			{Time: ago(2*time.Hour + 3*time.Minute), FromNode: "R1", ToNode: "R2", Reason: "peer R1 dead: no heartbeat for 10s"},
		},
	}
	// troubled has every counter distinct and non-zero, so that a field
	// printed in another's place fails the golden.
	troubled := &clusterv1.ShowStatisticsResponse{
		Group: "cluster1", LocalNode: "R1", Since: ago(3 * time.Hour),
		Heartbeats: &clusterv1.HeartbeatStatistics{
			Sent: 101, Received: 102, AuthFailures: 103, Replays: 104, Malformed: 105, UnknownSender: 106, SendErrors: 107, ConfigMismatches: 108,
		},
		Links: []*clusterv1.LinkStatistics{
			{Interface: "eth0", State: clusterv1.LinkState_LINK_STATE_NO_INTERFACE, Sent: 201, SendErrors: 202, Received: 203, AuthFailures: 204,
				FirstHeard: ago(2 * time.Hour), LastHeard: ago(time.Hour), TimesDown: 205},
		},
		Monitors: []*clusterv1.MonitorStatistics{
			{Address: "10.6.0.56", Reachable: true, State: clusterv1.MonitorState_MONITOR_STATE_PENDING, PingsSent: 301},
			{Address: "10.1.0.1", Reachable: true, PingsSent: 302, Replies: 303, TimesUnreachable: 304, LastReply: ago(2 * time.Second)},
		},
		Takeovers: 401, Releases: 402, PeerDeclaredDead: 403, SplitBrains: 404, ServiceStartFailures: 405, ServiceStopFailures: 406,
		GateDeadlinesMissed: 407, GateHolderFailures: 408,
	}
	fresh := &clusterv1.ShowStatisticsResponse{
		Group: "cluster1", LocalNode: "R1", Since: ago(3 * time.Second), Heartbeats: &clusterv1.HeartbeatStatistics{Sent: 2},
		Links: []*clusterv1.LinkStatistics{{Interface: "eth0", State: clusterv1.LinkState_LINK_STATE_UNKNOWN, Sent: 2}},
	}
	tests := []struct {
		name  string
		stats *clusterv1.ShowStatisticsResponse
	}{
		{"AfterFailover", busy},
		{"EveryCounterDistinct", troubled},
		{"JustStarted", fresh},
		{"NotConfigured", &clusterv1.ShowStatisticsResponse{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkGolden(t, Statistics(tt.stats, now)) })
	}
}

// TestOps renders the answers of the other commands.
func TestOps(t *testing.T) {
	var b strings.Builder
	b.WriteString(Reload(&clusterv1.ReloadResponse{
		Applied: true,
		Changes: []string{"keepalive-interval 2s -> 1s", "monitor 10.6.0.56 added"},
		Diagnostics: []*clusterv1.Diagnostic{{Severity: clusterv1.Severity_SEVERITY_WARNING, File: "/etc/hasuite/clusterd.conf",
			Line: 14, Column: 5, Path: "cluster pre-shared-secret", Message: "the secret is 8 characters long: use at least 16"}},
	}))
	b.WriteString(Reload(&clusterv1.ReloadResponse{
		Diagnostics: []*clusterv1.Diagnostic{{Severity: clusterv1.Severity_SEVERITY_ERROR, File: "/etc/hasuite/clusterd.conf",
			Line: 3, Column: 22, Path: "cluster", Message: "unexpected ':' after pre-shared-secret (write `pre-shared-secret VALUE`)"}},
	}))
	b.WriteString(Reload(&clusterv1.ReloadResponse{Applied: true}))
	b.WriteString(Standby(&clusterv1.StandbyResponse{Failover: &clusterv1.Failover{FromNode: "R1", ToNode: "R2", Reason: "manual standby"}}))
	b.WriteString(Takeover(&clusterv1.TakeoverResponse{Failover: &clusterv1.Failover{FromNode: "R2", ToNode: "R1"}}))
	b.WriteString(Takeover(&clusterv1.TakeoverResponse{Failover: &clusterv1.Failover{ToNode: "R1"}}))
	b.WriteString(Log([]*clusterv1.LogRecord{{Time: ago(time.Minute), Level: "WARN", Message: "peer dead",
		Attrs: []*clusterv1.LogAttr{{Key: "group", Value: "cluster1"}, {Key: "reason", Value: "no heartbeat for 10s"}}}}))
	for _, e := range []*clusterv1.MonitorEvent{
		{Event: &clusterv1.MonitorEvent_NodeChange{NodeChange: &clusterv1.NodeChange{Time: ago(30 * time.Second), Node: "R1",
			Role: clusterv1.Role_ROLE_PRIMARY, From: active, To: down, Reason: "no heartbeat for 10s"}}},
		{Event: &clusterv1.MonitorEvent_ResourceChange{ResourceChange: &clusterv1.ResourceChange{Time: ago(29 * time.Second),
			From: resNotActive, To: resStarting, Holder: "R2", Reason: "peer R1 dead"}}},
		{Event: &clusterv1.MonitorEvent_Log{Log: &clusterv1.LogRecord{Time: ago(28 * time.Second), Level: "INFO", Message: "resources active"}}},
	} {
		b.WriteString(MonitorEvent(e))
	}
	checkGolden(t, b.String())
}

func TestCompact(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 900 * time.Millisecond: "0.9s", 2 * time.Second: "2s", 59*time.Second + 940*time.Millisecond: "59.9s",
		time.Minute: "1m0s", 3*time.Minute + 12*time.Second: "3m12s", 2*time.Hour + 5*time.Minute: "2h5m",
		50 * time.Hour: "2d2h", -time.Second: "0s",
	} {
		if got := compact(d); got != want {
			t.Errorf("compact(%v) = %q, want %q", d, got, want)
		}
	}
}
