package bus

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// expectUpdate reads the next update and checks the fields that matter.
func expectUpdate(t *testing.T, updates <-chan Update, state State, reason string, restarted bool) Update {
	t.Helper()
	u, ok := receiveWithOK(t, updates)
	if !ok {
		t.Fatal("updates closed")
	}
	if u.State != state || (reason != "" && u.Reason != reason) || u.Restarted != restarted {
		t.Fatalf("update = {State:%v Reason:%q Restarted:%v Err:%v}, want {State:%v Reason:%q Restarted:%v}",
			u.State, u.Reason, u.Restarted, u.Err, state, reason, restarted)
	}
	return u
}

// receiveWithOK receives from updates within patience.
func receiveWithOK(t *testing.T, updates <-chan Update) (Update, bool) {
	t.Helper()
	type result struct {
		u  Update
		ok bool
	}
	got := make(chan result, 1)
	go func() {
		u, ok := <-updates
		got <- result{u, ok}
	}()
	r := receive(t, got, "an update")
	return r.u, r.ok
}

func TestWatchFailoverFollowsTheGroup(t *testing.T) {
	p := newTestProducer("vrrpd")
	mustPublish(t, p, syncGroup, master, "all members master")
	sp := serve(t, socketIn(t, "vrrpd"), p)
	updates := WatchFailover(testContext(t), DialerFor(sp.path), syncGroup, fastBackoff)

	u := expectUpdate(t, updates, StateMaster, "all members master", false)
	if u.Group != syncGroup || u.Source != "vrrpd" || u.BootID != p.BootID() || u.Sequence != 1 || u.Since.IsZero() {
		t.Errorf("update = %+v", u)
	}
	mustPublish(t, p, "eth0/99", backup, "another group")
	mustPublish(t, p, syncGroup, backup, "eth0/99 went backup")
	if u := expectUpdate(t, updates, StateBackup, "eth0/99 went backup", false); u.Sequence != 3 {
		t.Errorf("sequence = %d, want 3", u.Sequence)
	}

	p.Remove(syncGroup)
	expectUpdate(t, updates, StateUnknownGroup,
		"vrrpd no longer has group sync-group/ALPHA: removed from the configuration", false)
	mustPublish(t, p, syncGroup, busv1.State_STATE_INIT, "configured again")
	expectUpdate(t, updates, StateInit, "configured again", false)
}

func TestWatchFailoverReportsAnUnknownGroup(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	updates := WatchFailover(testContext(t), DialerFor(sp.path), syncGroup, fastBackoff)
	expectUpdate(t, updates, StateUnknownGroup, "vrrpd has no group sync-group/ALPHA", false)
	mustPublish(t, sp.Producer, syncGroup, backup, "")
	expectUpdate(t, updates, StateBackup, "", false)
}

func TestWatchFailoverWaitsForAProducerThatIsNotRunning(t *testing.T) {
	path := socketIn(t, "vrrpd")
	updates := WatchFailover(testContext(t), DialerFor(path), syncGroup, fastBackoff)
	u := expectUpdate(t, updates, StateProducerGone,
		"cannot reach vrrpd at "+path+": is it running? (connect: no such file or directory)", false)
	if !errors.Is(u.Err, ErrUnreachable) || u.Source != "" {
		t.Errorf("update = %+v, want an ErrUnreachable and no source yet", u)
	}

	p := newTestProducer("vrrpd")
	mustPublish(t, p, syncGroup, backup, "")
	serve(t, path, p)
	// The first producer it reaches is not a restart.
	expectUpdate(t, updates, StateBackup, "", false)
}

func TestWatchFailoverSurvivesAProducerRestart(t *testing.T) {
	path := socketIn(t, "vrrpd")
	first := newTestProducer("vrrpd")
	mustPublish(t, first, syncGroup, master, "")
	firstServer := serve(t, path, first)
	updates := WatchFailover(testContext(t), DialerFor(path), syncGroup, fastBackoff)
	expectUpdate(t, updates, StateMaster, "", false)

	firstServer.stop()
	gone := expectUpdate(t, updates, StateProducerGone, "", false)
	if gone.Err == nil || gone.Source != "vrrpd" || gone.BootID != first.BootID() {
		t.Errorf("gone = %+v, want an error naming the old producer", gone)
	}

	second := newTestProducer("vrrpd")
	mustPublish(t, second, syncGroup, backup, "restarted")
	serve(t, path, second)
	u := expectUpdate(t, updates, StateBackup, "restarted", true)
	if u.BootID != second.BootID() || u.Sequence != 1 {
		t.Errorf("update after restart = %+v, want the new boot id and sequence 1", u)
	}
	mustPublish(t, second, syncGroup, master, "")
	expectUpdate(t, updates, StateMaster, "", false)
}

func TestWatchFailoverClosesWhenCancelled(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	ctx, cancel := context.WithCancel(testContext(t))
	updates := WatchFailover(ctx, DialerFor(sp.path), syncGroup, fastBackoff)
	expectUpdate(t, updates, StateUnknownGroup, "", false)
	cancel()
	for {
		if _, ok := receiveWithOK(t, updates); !ok {
			return
		}
	}
}

// A slow reader reads only the latest update, but never loses a restart.
func TestWatchFailoverKeepsOnlyTheLatestUpdate(t *testing.T) {
	w := &failoverWatch{group: syncGroup, updates: make(chan Update, 1)}
	w.send(Update{State: StateProducerGone})
	w.send(Update{State: StateBackup, Restarted: true})
	w.send(Update{State: StateMaster})
	u := <-w.updates
	if u.State != StateMaster || !u.Restarted || u.Group != syncGroup {
		t.Errorf("update = %+v, want MASTER with Restarted", u)
	}
	select {
	case extra := <-w.updates:
		t.Errorf("unexpected second update %+v", extra)
	default:
	}
}

// fallingBehindServer makes its first watcher fall behind once the test
// lets it, then serves a new snapshot.
type fallingBehindServer struct {
	busv1.UnimplementedFailoverServer
	fallBehind chan struct{}
	watches    atomic.Int32
}

func (s *fallingBehindServer) Watch(_ *busv1.WatchRequest, stream grpc.ServerStreamingServer[busv1.WatchResponse]) error {
	first := s.watches.Add(1) == 1
	state := busv1.State_STATE_MASTER
	if !first {
		state = busv1.State_STATE_BACKUP
	}
	snapshot := []*busv1.WatchResponse{
		{Event: &busv1.WatchResponse_Status{Status: &busv1.GroupStatus{Group: syncGroup, State: state}}},
		{Event: &busv1.WatchResponse_EndOfSnapshot{EndOfSnapshot: &busv1.EndOfSnapshot{Source: "vrrpd", BootId: "boot"}}},
	}
	for _, resp := range snapshot {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	if first {
		<-s.fallBehind
		return status.Error(codes.ResourceExhausted, "watcher fell behind")
	}
	<-stream.Context().Done()
	return nil
}

func TestWatchFailoverResyncsAfterFallingBehind(t *testing.T) {
	path := socketIn(t, "vrrpd")
	lis, err := Listen(path, WithGroupLookup(noAccessGroup))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(path, nil, WithGroupLookup(noAccessGroup))
	server := &fallingBehindServer{fallBehind: make(chan struct{})}
	busv1.RegisterFailoverServer(srv, server)
	go srv.Serve(lis)
	defer srv.Stop()

	logs := &recordingHandler{}
	updates := WatchFailover(testContext(t), DialerFor(path), syncGroup, fastBackoff, WithLogger(slog.New(logs)))
	expectUpdate(t, updates, StateMaster, "", false)
	close(server.fallBehind)
	expectUpdate(t, updates, StateBackup, "", false)
	if logs.logged("failover producer gone") {
		t.Error("falling behind was reported as the producer being gone")
	}
	if !logs.logged("failover watch fell behind, re-reading the snapshot") {
		t.Error("falling behind was not logged")
	}
}
