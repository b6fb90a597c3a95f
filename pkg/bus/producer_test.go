package bus

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

const (
	master = busv1.State_STATE_MASTER
	backup = busv1.State_STATE_BACKUP
	fault  = busv1.State_STATE_FAULT
)

// rawWatch opens a Watch stream on a served producer.
func rawWatch(t *testing.T, sp *servedProducer, group string) grpc.ServerStreamingClient[busv1.WatchResponse] {
	t.Helper()
	conn, err := Dial(testContext(t), sp.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stream, err := busv1.NewFailoverClient(conn).Watch(testContext(t), &busv1.WatchRequest{Group: group})
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// event is a WatchResponse reduced to what the tests compare.
type event struct {
	kind     string // "status", "end", "transition"
	group    string
	state    busv1.State
	previous busv1.State
	sequence uint64
	removed  bool
}

func nextEvent(t *testing.T, stream grpc.ServerStreamingClient[busv1.WatchResponse]) event {
	t.Helper()
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	switch e := resp.GetEvent().(type) {
	case *busv1.WatchResponse_Status:
		return event{kind: "status", group: e.Status.GetGroup(), state: e.Status.GetState(), sequence: e.Status.GetSequence()}
	case *busv1.WatchResponse_EndOfSnapshot:
		return event{kind: "end", sequence: e.EndOfSnapshot.GetSequence()}
	case *busv1.WatchResponse_Transition:
		tr := e.Transition
		return event{kind: "transition", group: tr.GetGroup(), state: tr.GetState(), previous: tr.GetPreviousState(),
			sequence: tr.GetSequence(), removed: tr.GetRemoved()}
	}
	t.Fatalf("unexpected event %v", prototext.Format(resp))
	return event{}
}

func expectEvents(t *testing.T, stream grpc.ServerStreamingClient[busv1.WatchResponse], want ...event) {
	t.Helper()
	for i, w := range want {
		if got := nextEvent(t, stream); got != w {
			t.Fatalf("event %d = %+v, want %+v", i, got, w)
		}
	}
}

func mustPublish(t *testing.T, p *Producer, group string, state busv1.State, reason string) {
	t.Helper()
	if err := p.Publish(group, state, reason); err != nil {
		t.Fatal(err)
	}
}

func TestWatchSendsSnapshotThenTransitionsInOrder(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	mustPublish(t, sp.Producer, "eth0/99", master, "higher priority")
	mustPublish(t, sp.Producer, "eth1/101", backup, "lower priority")

	first := rawWatch(t, sp, "")
	expectEvents(t, first,
		event{kind: "status", group: "eth0/99", state: master, sequence: 1},
		event{kind: "status", group: "eth1/101", state: backup, sequence: 2},
		event{kind: "end", sequence: 2},
	)

	mustPublish(t, sp.Producer, "eth0/99", backup, "advert with higher priority")
	mustPublish(t, sp.Producer, "eth1/101", backup, "no-op: same state")
	mustPublish(t, sp.Producer, "eth1/101", fault, "interface down")
	mustPublish(t, sp.Producer, "eth0/99", fault, "sync group member fault")
	expectEvents(t, first,
		event{kind: "transition", group: "eth0/99", state: backup, previous: master, sequence: 3},
		event{kind: "transition", group: "eth1/101", state: fault, previous: backup, sequence: 4},
		event{kind: "transition", group: "eth0/99", state: fault, previous: backup, sequence: 5},
	)

	// A late watcher reads the current states, filtered to its group.
	late := rawWatch(t, sp, "eth1/101")
	expectEvents(t, late,
		event{kind: "status", group: "eth1/101", state: fault, sequence: 4},
		event{kind: "end", sequence: 5},
	)
	mustPublish(t, sp.Producer, "eth0/99", master, "not for the filtered watcher")
	mustPublish(t, sp.Producer, "eth1/101", backup, "interface up")
	expectEvents(t, late, event{kind: "transition", group: "eth1/101", state: backup, previous: fault, sequence: 7})
	expectEvents(t, first,
		event{kind: "transition", group: "eth0/99", state: master, previous: fault, sequence: 6},
		event{kind: "transition", group: "eth1/101", state: backup, previous: fault, sequence: 7},
	)
}

func TestTransitionsCarryTheProducerIdentity(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	sp := serve(t, socketIn(t, "clusterd"), newTestProducer("clusterd", WithNow(func() time.Time { return now })))
	stream := rawWatch(t, sp, "cluster/cluster1")
	expectEvents(t, stream, event{kind: "end"})
	mustPublish(t, sp.Producer, "cluster/cluster1", busv1.State_STATE_ACTIVE, "peer dead")

	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetTransition()
	if got.GetSource() != "clusterd" || got.GetBootId() != sp.BootID() || got.GetReason() != "peer dead" ||
		!got.GetTime().AsTime().Equal(now) || got.GetPreviousState() != busv1.State_STATE_UNSPECIFIED {
		t.Errorf("transition = %v", prototext.Format(got))
	}
	if other := newTestProducer("clusterd"); other.BootID() == sp.BootID() || other.BootID() == "" {
		t.Errorf("boot ids %q and %q should be random and distinct", sp.BootID(), other.BootID())
	}
}

func TestSequenceNumbersIncreaseAcrossGroups(t *testing.T) {
	p := newTestProducer("vrrpd")
	states := []busv1.State{master, backup, fault}
	var last uint64
	for i := range 30 {
		group := []string{"eth0/1", "eth0/2", "sync-group/A"}[i%3]
		mustPublish(t, p, group, states[(i/3)%3], "")
		list, err := p.List(t.Context(), &busv1.ListRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if list.GetSequence() <= last {
			t.Fatalf("sequence %d after %d", list.GetSequence(), last)
		}
		last = list.GetSequence()
	}
}

func TestPublishRejectsNonsense(t *testing.T) {
	p := newTestProducer("vrrpd")
	tests := []struct {
		group string
		state busv1.State
	}{
		{"", master},
		{"eth0/99", busv1.State_STATE_UNSPECIFIED},
		{"eth0/99", busv1.State(StateProducerGone)},
	}
	for _, tt := range tests {
		if err := p.Publish(tt.group, tt.state, ""); err == nil {
			t.Errorf("Publish(%q, %v) accepted", tt.group, tt.state)
		}
	}
}

func TestRemoveEndsTheGroup(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	mustPublish(t, sp.Producer, "eth0/99", master, "")
	stream := rawWatch(t, sp, "eth0/99")
	expectEvents(t, stream, event{kind: "status", group: "eth0/99", state: master, sequence: 1}, event{kind: "end", sequence: 1})

	sp.Remove("eth0/99")
	sp.Remove("eth0/99") // already gone: nothing happens
	expectEvents(t, stream, event{kind: "transition", group: "eth0/99", previous: master, sequence: 2, removed: true})
	list, err := sp.List(t.Context(), &busv1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetGroups()) != 0 {
		t.Errorf("List after Remove = %v", prototext.Format(list))
	}

	mustPublish(t, sp.Producer, "eth0/99", backup, "configured again")
	expectEvents(t, stream, event{kind: "transition", group: "eth0/99", state: backup, sequence: 3})
}

// blockingWatchStream is a Watch stream whose Send blocks until released,
// like a client that stopped reading.
type blockingWatchStream struct {
	grpc.ServerStream
	ctx     context.Context
	release chan struct{}
	sent    chan *busv1.WatchResponse
}

func (s *blockingWatchStream) Context() context.Context { return s.ctx }

func (s *blockingWatchStream) Send(resp *busv1.WatchResponse) error {
	if resp.GetTransition() != nil {
		<-s.release
	}
	s.sent <- resp
	return nil
}

func TestSlowWatcherIsDisconnectedInsteadOfBlockingTheProducer(t *testing.T) {
	p := newTestProducer("vrrpd", WithWatchBuffer(1))
	stream := &blockingWatchStream{ctx: testContext(t), release: make(chan struct{}), sent: make(chan *busv1.WatchResponse, 100)}
	watchEnded := make(chan error, 1)
	go func() { watchEnded <- p.Watch(&busv1.WatchRequest{}, stream) }()
	if end := receive(t, stream.sent, "end of snapshot"); end.GetEndOfSnapshot() == nil {
		t.Fatalf("first event = %v, want the end of an empty snapshot", end)
	}

	// One transition may sit in the stuck Send, one in the buffer: the
	// third overflows. Publish never blocks.
	for _, state := range []busv1.State{master, backup, fault} {
		mustPublish(t, p, "eth0/99", state, "")
	}
	close(stream.release)
	err := receive(t, watchEnded, "the slow watcher's stream to end")
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("Watch ended with %v, want ResourceExhausted", err)
	}

	// The producer goes on, and a new watch gets the snapshot.
	mustPublish(t, p, "eth0/99", backup, "")
	again := &blockingWatchStream{ctx: testContext(t), release: make(chan struct{}), sent: make(chan *busv1.WatchResponse, 100)}
	close(again.release)
	go p.Watch(&busv1.WatchRequest{}, again)
	if s := receive(t, again.sent, "snapshot").GetStatus(); s.GetState() != backup || s.GetSequence() != 4 {
		t.Errorf("snapshot after reconnect = %v", s)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	stream := rawWatch(t, sp, "")
	expectEvents(t, stream, event{kind: "end"})
	sp.Close()
	_, err := stream.Recv()
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "vrrpd is shutting down" {
		t.Fatalf("Recv after Close = %v, want Unavailable: vrrpd is shutting down", err)
	}
	// With every stream ended, a graceful stop completes.
	stopped := make(chan struct{})
	go func() {
		sp.server.GracefulStop()
		close(stopped)
	}()
	receive(t, stopped, "GracefulStop to return")
}
