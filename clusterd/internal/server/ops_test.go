package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/show"
	"github.com/hasuite/hasuite/pkg/metrics"
	"github.com/hasuite/hasuite/pkg/netlab"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

func TestShowLog(t *testing.T) {
	f := newFixture(t, engine.Status{})
	logger := slog.New(f.logs.Handler(slog.NewTextHandler(io.Discard, nil)))
	for i := range 5 {
		logger.Info("heartbeat link up", "group", "cluster/cluster1", "n", i)
	}
	resp, err := f.client.ShowLog(t.Context(), &clusterv1.ShowLogRequest{Lines: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Records) != 2 || resp.Records[1].Attrs[1].Value != "4" {
		t.Errorf("ShowLog(2) = %v, want the last two records, oldest first", resp.Records)
	}

	none := newFixture(t, engine.Status{}, func(o *Options) { o.Logs = nil })
	if _, err := none.client.ShowLog(t.Context(), &clusterv1.ShowLogRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("ShowLog without a ring: %v, want FailedPrecondition", err)
	}
}

// TestMonitor: a transition of the engine becomes the changes of the
// status lines it caused; a change no transition announces (the peer
// dies while this node is active) is found by polling; log records
// follow; the stream ends when the engine stops.
func TestMonitor(t *testing.T) {
	active := view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held)
	standby := view(fsm.NodeActiveStandby, fsm.NodeActive, fsm.HolderPeer, fsm.Released)
	f := newFixture(t, guideStatus(t, "R1", active))
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	stream, err := f.client.Monitor(ctx, &clusterv1.MonitorRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		// The time varies for polled changes; the rest is the test.
		line := show.MonitorEvent(ev)
		_, rest, _ := strings.Cut(line, " ")
		return rest
	}

	// Manual standby: R1 gives the resources to R2.
	f.eng.set(guideStatus(t, "R1", standby), &engine.Event{Time: now, From: fsm.Active, To: fsm.Standby, Reason: "manual standby"})
	for _, want := range []string{
		"primary R1: active -> active_standby: manual standby\n",
		"secondary R2: active_standby -> active: manual standby\n",
		"resources: active -> active on R2: manual standby\n",
	} {
		if got := next(); got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	}

	// The end of a startup wait changes no status line: it is reported
	// as the local node's transition.
	f.eng.set(guideStatus(t, "R1", standby), &engine.Event{Time: now, From: fsm.Init, To: fsm.Standby, Reason: "peer heard"})
	if got, want := next(), "primary R1: unknown -> active_standby: peer heard\n"; got != want {
		t.Errorf("event %q, want %q", got, want)
	}

	// R2 dies while holding them: no transition yet, the poll sees it.
	dead := standby
	dead.Peer = fsm.NodeDown
	f.eng.set(guideStatus(t, "R1", dead), nil)
	if got, want := next(), "secondary R2: active -> down\n"; got != want {
		t.Errorf("event %q, want %q", got, want)
	}

	slog.New(f.logs.Handler(slog.NewTextHandler(io.Discard, nil))).Warn("peer dead", "group", "cluster/cluster1")
	if got, want := next(), "WARN  peer dead group=cluster/cluster1\n"; got != want {
		t.Errorf("event %q, want %q", got, want)
	}

	f.eng.stop()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Recv after the engine stopped: %v, want Unavailable", err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		n := f.eng.subscribers()
		return n == 0, fmt.Sprintf("%d subscribers", n)
	})
}

// TestMonitorCancel: a client that leaves ends its subscription.
func TestMonitorCancel(t *testing.T) {
	f := newFixture(t, guideStatus(t, "R1", fsm.View{}))
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := f.client.Monitor(ctx, &clusterv1.MonitorRequest{Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	if n := f.eng.subscribers(); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	cancel()
	netlab.WaitFor(t, patience, func() (bool, string) {
		n := f.eng.subscribers()
		return n == 0, fmt.Sprintf("%d subscribers", n)
	})
}

// TestMetrics: the families behind --metrics-listen, golden.
func TestMetrics(t *testing.T) {
	v := view(fsm.NodeActive, fsm.NodeActiveStandby, fsm.HolderLocal, fsm.Held)
	v.State = fsm.Active
	st := guideStatus(t, "R1", v, true, false)
	st.Counters = engine.Counters{
		HeartbeatsSent: 100, HeartbeatsReceived: 98, SendErrors: 1, Drops: map[string]uint64{"bad_mac": 3, "replay": 1},
		PeerDeclaredDead: 1, Acquisitions: 2, Releases: 1, StartFailures: 1, SplitBrains: 1,
		StopFailures: 4, GateDeadlines: 5, GateFailures: 6, ConfigMismatches: 7,
		Links: map[string]engine.LinkCounters{
			"eth0": {Sent: 51, Received: 49, SendErrors: 2, AuthFailures: 3, LastReceived: now.Add(-1400 * time.Millisecond)},
			"eth1": {Sent: 47, SendErrors: 8}, // never heard: no last-heard sample
		},
	}
	st.Monitors[0].Sent, st.Monitors[0].Replies = 60, 59
	st.Monitors[1].Sent, st.Monitors[1].Replies, st.Monitors[1].LastReply = 61, 0, time.Time{}
	f := newFixture(t, st)
	fams, err := f.server.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := metrics.Write(&b, fams); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata", "TestMetrics", b.String())

	f.eng.set(engine.Status{}, nil)
	fams, err = f.server.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if len(fam.Samples) != 0 {
			t.Errorf("clustering off: %s has samples %v", fam.Name, fam.Samples)
		}
	}
	f.eng.stop()
	if _, err := f.server.Metrics(t.Context()); err == nil {
		t.Error("Metrics on a stopped engine succeeded, want an error (the scrape fails)")
	}
}
