package server

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/show"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current renderings")

// checkGolden compares got with dir/<name>.golden; -update rewrites the
// files of this package (never the show package's).
func checkGolden(t *testing.T, dir, name, got string) {
	t.Helper()
	path := filepath.Join(dir, name+".golden")
	if *update && dir == "testdata" {
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
		t.Errorf("rendering differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// showGolden is where the show package keeps its renderings of the
// guide's examples: the conversion must produce the messages those tests
// render.
const showGolden = "../show/testdata"

func view(local, peer fsm.NodeState, holder fsm.Holder, phase fsm.Phase) fsm.View {
	return fsm.View{Local: local, Peer: peer, Holder: holder, Phase: phase, PeerHeard: true,
		LocalReachable: 2, LocalTotal: 2, PeerReachable: 2, PeerTotal: 2}
}

// TestCL_O01_StatusConversion: engine statuses of the guide's Examples
// 3-6 to 3-10, and of the states it does not show, converted and rendered,
// give exactly what the show package's golden files hold.
func TestCL_O01_StatusConversion(t *testing.T) {
	tests := []struct {
		golden string
		name   string // when not the golden's
		local  string
		view   fsm.View
		// reachable: this node's view of 10.6.0.55 and 10.1.0.1.
		reachable []bool
		edit      func(*engine.Status)
	}{
		{golden: "Example3_6_PrimaryActive_PrimaryView", local: "R1",
			view: view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held)},
		{golden: "Example3_7_PrimaryActive_SecondaryView", local: "R2",
			view: view(fsm.NodeActiveStandby, fsm.NodeActive, fsm.HolderPeer, fsm.Released)},
		{golden: "Example3_8_PrimaryLostMonitor_PrimaryView", local: "R1", reachable: []bool{false, true},
			view: view(fsm.NodeDownMonitor, fsm.NodeActive, fsm.HolderPeer, fsm.Released)},
		{golden: "Example3_9_PrimaryLostMonitor_SecondaryView", local: "R2",
			view: view(fsm.NodeActive, fsm.NodeDownMonitor, fsm.HolderLocal, fsm.Held)},
		{golden: "Example3_10_PrimaryDead_SecondaryView", local: "R2",
			view: view(fsm.NodeActive, fsm.NodeDown, fsm.HolderLocal, fsm.Held)},
		{golden: "PeerNeverHeard_WaitingForPeer", local: "R1",
			view: fsm.View{State: fsm.Init, Local: fsm.NodeActiveStandby, Peer: fsm.NodeUnknown, InitRemaining: 87 * time.Second}},
		{golden: "StartingOnPrimary", local: "R1",
			view: view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Starting)},
		{golden: "StartingOnPrimary", name: "PreparingReadsStarting", local: "R1", // the gates' wait
			view: view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Preparing)},
		{golden: "StoppingOnSecondary_Failback", local: "R1",
			view: func() fsm.View {
				v := view(fsm.NodeActiveStandby, fsm.NodeActive, fsm.HolderPeer, fsm.Released)
				v.PeerReleasing = true
				return v
			}()},
		{golden: "NotActive_BothLostMonitor", local: "R2", reachable: []bool{false, false},
			view: view(fsm.NodeDownMonitor, fsm.NodeDownMonitor, fsm.HolderNone, fsm.Released)},
		{golden: "NeitherPrimaryNorSecondary", local: "R3"},
		{golden: "NotConfigured", local: "R1", edit: func(st *engine.Status) { *st = engine.Status{NodeName: "R1"} }},
	}
	for _, tt := range tests {
		name := tt.name
		if name == "" {
			name = tt.golden
		}
		t.Run(name, func(t *testing.T) {
			st := guideStatus(t, tt.local, tt.view, tt.reachable...)
			if tt.edit != nil {
				tt.edit(&st)
			}
			f := newFixture(t, st)
			resp, err := f.client.ShowStatus(t.Context(), &clusterv1.ShowStatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, showGolden, "TestCL_O01_Status_"+tt.golden, show.Status(resp.Status))
		})
	}
}

// TestCL_Q09_StatusExtras: what the text leaves out reaches --json: the
// startup wait, the last failover, recent split brains, the services and
// a configuration mismatch.
func TestCL_Q09_StatusExtras(t *testing.T) {
	v := view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held)
	v.SplitBrains = []fsm.SplitBrain{
		{At: now.Add(-2 * time.Hour), Winner: fsm.Primary, LocalWon: true, Reason: "too old to show"},
		{At: now.Add(-10 * time.Minute), Winner: fsm.Primary, LocalWon: true, Reason: "auto-failback: the primary keeps them"},
	}
	st := guideStatus(t, "R1", v)
	st.LastFailover, st.LastFailoverWhy = now.Add(-time.Hour), "peer R1 dead: no heartbeat for 10s"
	st.Peer.ConfigMismatch = true
	st.Services[2].Phase, st.Services[2].Err, st.Services[2].Output = resources.Running, "", nil
	st.Services[0].Phase, st.Services[0].Warning = resources.Running, "10.6.0.100 was already on eth1"
	got := statusMessage(st)
	if len(got.SplitBrains) != 1 || got.SplitBrains[0].KeptBy != "R1" || got.SplitBrains[0].ReleasedBy != "R2" {
		t.Errorf("split brains = %v, want the recent one, kept by R1", got.SplitBrains)
	}
	if f := got.LastFailover; f.GetToNode() != "R1" || f.GetFromNode() != "R2" || f.GetReason() != st.LastFailoverWhy {
		t.Errorf("last failover = %v, want R2 -> R1 with the engine's reason", f)
	}
	if !got.ConfigMismatch || got.Secondary.ConfigHash != "" || got.Primary.ConfigHash != st.Config.Hash().String() {
		t.Errorf("mismatch %v, hashes %q/%q: want the mismatch flagged and the peer's hash unknown",
			got.ConfigMismatch, got.Primary.ConfigHash, got.Secondary.ConfigHash)
	}
	svc := got.Resources.Services
	if len(svc) != 3 || svc[0].Label != "eth1:0" || svc[0].Spec != "10.6.0.100/24/eth1" || svc[0].Kind != clusterv1.ServiceKind_SERVICE_KIND_IP ||
		!strings.Contains(svc[0].Error, "already on eth1") || svc[2].State != clusterv1.ServiceState_SERVICE_STATE_RUNNING {
		t.Errorf("services = %v", svc)
	}

	init := guideStatus(t, "R1", fsm.View{State: fsm.Init, Local: fsm.NodeActiveStandby, InitRemaining: 87 * time.Second})
	if w := statusMessage(init).WaitingForPeer; w.AsDuration() != 87*time.Second {
		t.Errorf("waiting for peer = %v, want 87s", w)
	}

	failed := guideStatus(t, "R1", fsm.View{State: fsm.Down, Local: fsm.NodeDown, LocalFailed: true, LocalFailure: "ipsec: exit status 1"})
	failed.Services[2].Phase, failed.Services[2].Err, failed.Services[2].Output = resources.Failed, "exit status 1", []string{"ipsec:", "no such file"}
	s := statusMessage(failed).Resources.Services[2]
	if s.State != clusterv1.ServiceState_SERVICE_STATE_START_FAILED || s.Output != "ipsec:\nno such file" {
		t.Errorf("failed start = %v", s)
	}
}

// TestShowNodes renders `show cluster nodes` from a status with one link
// silent for longer than dead-interval.
func TestShowNodes(t *testing.T) {
	for _, local := range []string{"R1", "R2"} {
		t.Run(local, func(t *testing.T) {
			st := guideStatus(t, local, view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held))
			f := newFixture(t, st)
			resp, err := f.client.ShowNodes(t.Context(), &clusterv1.ShowNodesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "testdata", "TestShowNodes_"+local, show.Nodes(resp.Nodes, now))
		})
	}
	t.Run("NeverHeard", func(t *testing.T) {
		st := guideStatus(t, "R1", fsm.View{State: fsm.Init, Local: fsm.NodeActiveStandby})
		st.Links[1] = engine.Link{Interface: "eth1", Problem: "interface eth1 is missing"}
		f := newFixture(t, st)
		resp, err := f.client.ShowNodes(t.Context(), &clusterv1.ShowNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "testdata", "TestShowNodes_NeverHeard", show.Nodes(resp.Nodes, now))
	})
	t.Run("NotConfigured", func(t *testing.T) {
		f := newFixture(t, engine.Status{})
		resp, err := f.client.ShowNodes(t.Context(), &clusterv1.ShowNodesRequest{})
		if err != nil || len(resp.Nodes) != 0 {
			t.Errorf("ShowNodes = %v, %v; want no nodes", resp, err)
		}
	})
}

// TestShowStatistics renders `show cluster statistics` (CL-B05 drops by
// reason, CL-B21 split brains).
func TestShowStatistics(t *testing.T) {
	st := guideStatus(t, "R2", view(fsm.NodeActive, fsm.NodeDown, fsm.HolderLocal, fsm.Held), true, false)
	st.Peer.Links["eth0"] = now.Add(-12 * time.Second)
	st.Peer.LastHeard = now.Add(-12 * time.Second)
	st.Counters = engine.Counters{
		HeartbeatsSent: 93750, HeartbeatsReceived: 93601, SendErrors: 4,
		Drops:            map[string]uint64{"bad_mac": 12, "replay": 3, "malformed": 1, "version": 1, "unknown_node": 2},
		PeerDeclaredDead: 1, Acquisitions: 1, SplitBrains: 1, StartFailures: 2,
		StopFailures: 5, GateDeadlines: 6, GateFailures: 7, ConfigMismatches: 8,
		Links: map[string]engine.LinkCounters{
			// eth0 back for 2h after one silence; eth1 silent for 3m12s
			// now, after two earlier silences.
			"eth0": {Sent: 46875, Received: 46850, SendErrors: 1, AuthFailures: 11, FirstReceived: now.Add(-26 * time.Hour),
				AliveSince: now.Add(-2 * time.Hour), LastReceived: now.Add(-12 * time.Second), Silences: 1},
			"eth1": {Sent: 46872, Received: 46751, SendErrors: 3, AuthFailures: 1, FirstReceived: now.Add(-25 * time.Hour),
				AliveSince: now.Add(-20 * time.Minute), LastReceived: now.Add(-3*time.Minute - 12*time.Second), Silences: 2},
		},
	}
	st.Monitors[0].Sent, st.Monitors[0].Replies = 46875, 46870
	st.Monitors[1].Sent, st.Monitors[1].Replies, st.Monitors[1].TimesUnreachable = 46874, 40001, 3
	st.LastFailover, st.LastFailoverWhy = now.Add(-2*time.Hour-3*time.Minute), "peer R1 dead: no heartbeat for 10s"
	f := newFixture(t, st)
	resp, err := f.client.ShowStatistics(t.Context(), &clusterv1.ShowStatisticsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata", "TestShowStatistics", show.Statistics(resp, now))
	if m := resp.GetMonitors()[1]; m.GetState() != clusterv1.MonitorState_MONITOR_STATE_UNREACHABLE {
		t.Errorf("monitor %s: state %v, want UNREACHABLE", m.GetAddress(), m.GetState())
	}
	// --json carries the new counters under stable keys.
	out, err := show.JSON(resp)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Heartbeats          struct{ ConfigMismatches string }
		Links               []struct{ SendErrors, TimesDown string }
		Monitors            []struct{ PingsSent, State string }
		ServiceStopFailures string
		GateDeadlinesMissed string
		GateHolderFailures  string
	}
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if js.Heartbeats.ConfigMismatches != "8" || len(js.Links) != 2 || js.Links[1].SendErrors != "3" || js.Links[1].TimesDown != "3" ||
		js.Monitors[0].PingsSent != "46875" || js.Monitors[1].State != "MONITOR_STATE_UNREACHABLE" ||
		js.ServiceStopFailures != "5" || js.GateDeadlinesMissed != "6" || js.GateHolderFailures != "7" {
		t.Errorf("JSON lacks counters:\n%s", out)
	}

	// A link heard within dead-interval is up, alive since its current
	// run of heartbeats began; its one silence is over.
	st.Peer.Links["eth0"], st.Peer.LastHeard = now.Add(-time.Second), now.Add(-time.Second)
	eth0 := st.Counters.Links["eth0"]
	eth0.LastReceived = now.Add(-time.Second)
	st.Counters.Links["eth0"] = eth0
	l := statisticsMessage(st, now.Add(-27*time.Hour)).GetLinks()[0]
	if l.GetState() != clusterv1.LinkState_LINK_STATE_UP || !l.GetAliveSince().AsTime().Equal(eth0.AliveSince) || l.GetTimesDown() != 1 {
		t.Errorf("eth0 heard 1s ago: state %v, alive since %v, down %d times; want up, since %v, 1", l.GetState(),
			l.GetAliveSince().AsTime(), l.GetTimesDown(), eth0.AliveSince)
	}

	off := newFixture(t, engine.Status{})
	resp, err = off.client.ShowStatistics(t.Context(), &clusterv1.ShowStatisticsRequest{})
	if err != nil || show.Statistics(resp, now) != show.NotConfigured {
		t.Errorf("ShowStatistics with clustering off = %v, %v", resp, err)
	}
}

// TestCL_C13_SecretNeverShown: no answer of any show command, nor a
// diagnostic about the file, carries the pre-shared secret.
func TestCL_C13_SecretNeverShown(t *testing.T) {
	st := guideStatus(t, "R1", view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held))
	secret := st.Config.Secret
	if secret == "" {
		t.Fatal("the test configuration has no secret")
	}
	f := newFixture(t, st)
	ctx := t.Context()
	var answers []proto.Message
	if r, err := f.client.ShowStatus(ctx, &clusterv1.ShowStatusRequest{}); err == nil {
		answers = append(answers, r)
	}
	if r, err := f.client.ShowNodes(ctx, &clusterv1.ShowNodesRequest{}); err == nil {
		answers = append(answers, r)
	}
	if r, err := f.client.ShowStatistics(ctx, &clusterv1.ShowStatisticsRequest{}); err == nil {
		answers = append(answers, r)
	}
	// A short secret draws a warning; a stray token after it an error
	// that may quote it.
	for _, text := range []string{
		strings.Replace(guideText(t), `"!secret!-not-for-show"`, "s3cr3tX", 1),
		strings.Replace(guideText(t), `"!secret!-not-for-show"`, "s3cr3tX s3cr3tY", 1),
		strings.Replace(guideText(t), `pre-shared-secret "!secret!-not-for-show"`, `pre-shared-secret "!secret!-not-for-show" {`, 1),
	} {
		r, err := f.client.Validate(ctx, &clusterv1.ValidateRequest{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Diagnostics) == 0 {
			t.Errorf("no diagnostic for\n%s", text)
		}
		answers = append(answers, r)
	}
	if len(answers) != 6 {
		t.Fatalf("only %d answers", len(answers))
	}
	for _, a := range answers {
		out, err := show.JSON(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{secret, "s3cr3tX", "s3cr3tY"} {
			if strings.Contains(string(out), s) {
				t.Errorf("an answer shows the secret %q:\n%s", s, out)
			}
		}
	}
}

func guideText(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "guide-status.conf"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// TestCL_B23_Reload: a valid file is applied and the engine's changes
// returned; a file with errors (syntax, schema, a missing script) changes
// nothing and says where, file:line:col.
func TestCL_B23_Reload(t *testing.T) {
	st := guideStatus(t, "R1", view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held))
	f := newFixture(t, st)
	f.eng.changes = []string{"keepalive-interval 2s -> 1s"}
	good := strings.Replace(guideText(t), "keepalive-interval 2000", "keepalive-interval 1000", 1)
	f.writeConfig(t, good)
	resp, err := f.client.Reload(t.Context(), &clusterv1.ReloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Applied || len(resp.Changes) != 1 || len(f.eng.applied) != 1 || f.eng.applied[0].KeepaliveInterval != time.Second {
		t.Fatalf("Reload = %v, applied %d configurations; want the new one applied", resp, len(f.eng.applied))
	}

	bad := []struct {
		name, text, place string
	}{
		{"syntax", strings.Replace(good, "dead-interval 10000", "dead-interval 10000 }", 1), "clusterd.conf:"},
		{"dead not above keepalive (CL-E05)", strings.Replace(good, "dead-interval 10000", "dead-interval 500", 1), "clusterd.conf:5:"},
		{"missing resource script (CL-C08c)", strings.Replace(good, "service ipsec", "service nosuch::x", 1), ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			f.writeConfig(t, tt.text)
			resp, err := f.client.Reload(t.Context(), &clusterv1.ReloadRequest{})
			if err != nil {
				t.Fatal(err)
			}
			text := show.Reload(resp)
			if resp.Applied || len(f.eng.applied) != 1 || !strings.Contains(text, tt.place) ||
				!strings.Contains(text, "Configuration not applied") {
				t.Errorf("Reload applied %v (engine saw %d); text:\n%s\nwant nothing applied and %q", resp.Applied, len(f.eng.applied), text, tt.place)
			}
		})
	}

	if err := os.Remove(f.configFile); err != nil {
		t.Fatal(err)
	}
	_, err = f.client.Reload(t.Context(), &clusterv1.ReloadRequest{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Reload of a missing file: %v, want FailedPrecondition", err)
	}
}

// TestValidate checks a text without applying it.
func TestValidate(t *testing.T) {
	f := newFixture(t, guideStatus(t, "R1", fsm.View{}))
	resp, err := f.client.Validate(t.Context(), &clusterv1.ValidateRequest{Text: guideText(t)})
	if err != nil || len(resp.Diagnostics) != 0 {
		t.Errorf("Validate(guide) = %v, %v; want no diagnostics", resp, err)
	}
	resp, err = f.client.Validate(t.Context(), &clusterv1.ValidateRequest{
		Text: "cluster {\n\tinterface eth0\n}\n", File: "r1.conf",
	})
	if err != nil {
		t.Fatal(err)
	}
	text := show.Diagnostics(resp.Diagnostics)
	if !strings.HasPrefix(text, "r1.conf:") || len(f.eng.applied) != 0 {
		t.Errorf("Validate(incomplete) =\n%s\nwant r1.conf:line:col errors (CL-E01), nothing applied", text)
	}
}

// TestStandbyTakeover: the commands reach the engine; its refusal is a
// precondition the operator reads; a node outside the group or a cluster
// not configured refuses before asking the engine.
func TestStandbyTakeover(t *testing.T) {
	st := guideStatus(t, "R1", view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held))
	f := newFixture(t, st)
	sb, err := f.client.Standby(t.Context(), &clusterv1.StandbyRequest{})
	if err != nil || show.Standby(sb) != "Releasing the resources of R1 to R2.\n" || f.eng.standbys != 1 {
		t.Errorf("Standby = %v, %v (engine asked %d times)", sb, err, f.eng.standbys)
	}

	f.eng.set(guideStatus(t, "R1", view(fsm.NodeActiveStandby, fsm.NodeActive, fsm.HolderPeer, fsm.Released)), nil)
	to, err := f.client.Takeover(t.Context(), &clusterv1.TakeoverRequest{})
	if err != nil || show.Takeover(to) != "Taking the resources from R2 on R1.\n" || f.eng.takeovers != 1 {
		t.Errorf("Takeover = %v, %v (engine asked %d times)", to, err, f.eng.takeovers)
	}

	f.eng.commandErr = errPeerDead
	_, err = f.client.Standby(t.Context(), &clusterv1.StandbyRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), errPeerDead.Error()) {
		t.Errorf("Standby refused by the engine: %v, want FailedPrecondition saying why", err)
	}
	f.eng.commandErr = engine.ErrStopped
	if _, err = f.client.Takeover(t.Context(), &clusterv1.TakeoverRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Takeover on a stopped engine: %v, want Unavailable", err)
	}

	f.eng.commandErr = nil
	before := f.eng.standbys
	for _, st := range []engine.Status{guideStatus(t, "R3", fsm.View{}), {NodeName: "R1"}} {
		f.eng.set(st, nil)
		_, err := f.client.Standby(t.Context(), &clusterv1.StandbyRequest{})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("Standby on %q (member %v): %v, want FailedPrecondition", st.NodeName, !st.NotMember, err)
		}
	}
	if f.eng.standbys != before {
		t.Errorf("the engine was asked for a standby it cannot do")
	}
}

// TestEngineStopped: requests while the loop is not running say so.
func TestEngineStopped(t *testing.T) {
	f := newFixture(t, engine.Status{})
	f.eng.stop()
	_, err := f.client.ShowStatus(t.Context(), &clusterv1.ShowStatusRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "retry") {
		t.Errorf("ShowStatus on a stopped engine: %v, want Unavailable", err)
	}
}
