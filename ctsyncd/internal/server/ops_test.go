package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/show"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/metrics"
	"github.com/hasuite/hasuite/pkg/netlab"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

func TestShowLog(t *testing.T) {
	f := newFixture(t, engine.Status{})
	logger := slog.New(f.logs.Handler(slog.NewTextHandler(io.Discard, nil)))
	for i := range 5 {
		logger.Info("commit done", "entries", i)
	}
	resp, err := f.client.ShowLog(t.Context(), &ctsyncv1.ShowLogRequest{Lines: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Records) != 2 || resp.Records[1].Attrs[0].Value != "4" {
		t.Errorf("ShowLog(2) = %v, want the last two records, oldest first", resp.Records)
	}
	none := newFixture(t, engine.Status{}, func(o *Options) { o.Logs = nil })
	if _, err := none.client.ShowLog(t.Context(), &ctsyncv1.ShowLogRequest{}); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "journalctl") {
		t.Errorf("ShowLog without a ring: %v, want FailedPrecondition pointing at the journal", err)
	}
}

// TestMonitor: each engine event becomes its API event, its figures from
// the status after it; log records follow; the stream ends when the
// engine stops.
func TestMonitor(t *testing.T) {
	st := guideStatus(t, "guide-status.conf")
	st.Mode = engine.ModeBackup
	f := newFixture(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	stream, err := f.client.Monitor(ctx, &ctsyncv1.MonitorRequest{})
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
		return show.MonitorEvent(ev)
	}
	at := transition.Add(time.Second)
	st.Mode, st.Since, st.Reason = engine.ModePrimary, at, "cluster group test active"
	f.eng.set(st, &engine.Event{Time: at, Kind: "mode", Message: "BACKUP -> PRIMARY (ACTIVE cluster group test active)"})
	st.LastCommit = engine.Commit{At: at, Entries: 100000, Failed: 2, Duration: 350 * time.Millisecond}
	f.eng.set(st, &engine.Event{Time: at, Kind: "commit", Message: "commit"})
	st.Main.ExternalLen = 42
	f.eng.set(st, &engine.Event{Time: at, Kind: "resync", Message: "peer's table received: 42 entries"})
	st.Session.PeerAlive = false
	f.eng.set(st, &engine.Event{Time: at, Kind: "peer", Message: "silent for 5s"})
	f.eng.set(st, &engine.Event{Time: at, Kind: "gate", Message: "takeover gate released"})
	for _, want := range []string{
		"2010-07-09T23:15:27.000Z state: BACKUP -> PRIMARY: cluster group test active\n",
		"2010-07-09T23:15:27.000Z commit: 100000 entries, 2 failed, in 350ms\n",
		"2010-07-09T23:15:27.000Z resync requested: 42 entries: peer's table received: 42 entries\n",
		"2010-07-09T23:15:27.000Z peer : silent, boot 77aa: silent for 5s\n",
		"2010-07-09T23:15:27.000Z INFO  takeover gate released event=gate\n",
	} {
		if got := next(); got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	}

	logger := slog.New(f.logs.Handler(slog.NewTextHandler(io.Discard, nil)))
	logger.Info("peer restarted", "boot", "88bb")
	if got := next(); !strings.Contains(got, "INFO  peer restarted boot=88bb") {
		t.Errorf("log event %q", got)
	}

	f.eng.stop()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("after the engine stopped: %v, want Unavailable", err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		n := f.eng.subscribers()
		return n == 0, fmt.Sprintf("%d engine subscriptions left", n)
	})
}

// TestMetrics: the collector writes valid exposition text with the state,
// the caches and the counters labelled by group; nothing when sync is off.
func TestMetrics(t *testing.T) {
	st := guideStatus(t, "guide-status-expect-all.conf")
	st.Main.InternalLen, st.Expect.ExternalLen = 10, 2
	st.Session.Malformed[wire.DropBadMAC] = 3
	f := newFixture(t, st)
	fams, err := f.server.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := metrics.Write(&b, fams); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		`ctsyncd_state{group="cluster/test",state="PRIMARY"} 1`,
		`ctsyncd_state{group="cluster/test",state="BACKUP"} 0`,
		`ctsyncd_peer_alive{group="cluster/test"} 1`,
		`ctsyncd_cache_entries{group="cluster/test",cache="internal",table="main"} 10`,
		`ctsyncd_cache_entries{group="cluster/test",cache="external",table="expect"} 2`,
		`ctsyncd_sync_dropped_total{group="cluster/test",reason="bad-mac"} 3`,
		`ctsyncd_digest_checks_total{group="cluster/test"} 9360`,
		`ctsyncd_last_commit_duration_seconds{group="cluster/test"} 0.0034`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}

	none := newFixture(t, engine.Status{})
	fams, err = none.server.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if len(fam.Samples) != 0 {
			t.Errorf("%s has samples with sync not configured", fam.Name)
		}
	}
}
