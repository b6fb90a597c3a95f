package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// Update is one group's current state as a consumer sees it. Act on the
// state it carries, not on the change from the previous update: updates are
// level-triggered and a slow reader only sees the latest.
type Update struct {
	Group  string
	State  State
	Reason string
	// When the group entered State, by the producer's clock; for the
	// consumer-side states, when the consumer noticed.
	Since time.Time
	// The producer ("vrrpd") and its boot id as last heard from it; empty
	// before the first contact.
	Source string
	BootID string
	// Sequence number of the producer's transition behind this state; 0 when
	// it comes from a consumer-side state.
	Sequence uint64
	// The producer restarted (its boot id changed) since the previous update
	// the consumer read: whatever it knew of the producer is stale.
	Restarted bool
	// Why the producer is gone, with StateProducerGone.
	Err error
}

// WatchFailover follows one group of a producer until ctx ends, then
// closes the channel. The channel holds at most one update: when the
// consumer is slow, a newer update replaces the unread one (Restarted is
// kept), so the latest update read is always the current state.
//
// Updates come after every snapshot (so after each reconnect, even if
// nothing changed) and on each transition of the group. When the producer
// cannot be reached or the stream breaks, the state is [StateProducerGone]
// (sent once per outage) and WatchFailover reconnects with backoff. A group
// the producer does not have is [StateUnknownGroup], and so is a group it
// removes; WatchFailover keeps watching in case it comes (back).
func WatchFailover(ctx context.Context, dial Dialer, group string, opts ...ClientOption) <-chan Update {
	w := &failoverWatch{
		dial:    dial,
		group:   group,
		cfg:     newClientConfig(opts),
		updates: make(chan Update, 1),
	}
	go w.run(ctx)
	return w.updates
}

type failoverWatch struct {
	dial    Dialer
	group   string
	cfg     clientConfig
	updates chan Update

	// Owned by the run goroutine.
	source string
	bootID string
	gone   bool // the latest update sent was StateProducerGone
}

func (w *failoverWatch) run(ctx context.Context) {
	defer close(w.updates)
	retry := retrier{backoff: w.cfg.backoff}
	for {
		snapshotRead, err := w.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		// A watcher that fell behind lost transitions, not the producer:
		// the next snapshot puts it right.
		if status.Code(err) == codes.ResourceExhausted {
			w.cfg.logger.Info("failover watch fell behind, re-reading the snapshot", "group", w.group, "error", err)
		} else {
			w.producerGone(err)
		}
		if !retry.wait(ctx, snapshotRead) {
			return
		}
	}
}

// watchOnce follows one stream until it breaks. snapshotRead reports that
// it got as far as the end of the snapshot.
func (w *failoverWatch) watchOnce(ctx context.Context) (snapshotRead bool, err error) {
	conn, err := w.dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := busv1.NewFailoverClient(conn).Watch(ctx, &busv1.WatchRequest{Group: w.group})
	if err != nil {
		return false, fmt.Errorf("watch %s: %w", w.group, err)
	}
	var current *busv1.GroupStatus
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return snapshotRead, fmt.Errorf("%s ended the watch of %s", w.producerName(), w.group)
		}
		if err != nil {
			return snapshotRead, fmt.Errorf("lost the watch of %s on %s: %w", w.group, w.producerName(), err)
		}
		switch event := resp.GetEvent().(type) {
		case *busv1.WatchResponse_Status:
			if event.Status.GetGroup() == w.group {
				current = event.Status
			}
		case *busv1.WatchResponse_EndOfSnapshot:
			snapshotRead = true
			w.snapshotEnded(event.EndOfSnapshot, current)
		case *busv1.WatchResponse_Transition:
			if event.Transition.GetGroup() == w.group {
				w.transition(event.Transition)
			}
		}
	}
}

func (w *failoverWatch) snapshotEnded(end *busv1.EndOfSnapshot, current *busv1.GroupStatus) {
	restarted := w.bootID != "" && w.bootID != end.GetBootId()
	w.source, w.bootID = end.GetSource(), end.GetBootId()
	if w.gone || restarted {
		w.cfg.logger.Info("failover producer reached", "group", w.group, "producer", w.source,
			"boot_id", w.bootID, "restarted", restarted)
	}
	w.gone = false
	u := Update{State: StateUnknownGroup, Reason: fmt.Sprintf("%s has no group %s", w.source, w.group),
		Since: time.Now(), Restarted: restarted}
	if current != nil {
		u = Update{
			State:     State(current.GetState()),
			Reason:    current.GetReason(),
			Since:     current.GetSince().AsTime(),
			Sequence:  current.GetSequence(),
			Restarted: restarted,
		}
	}
	w.send(u)
}

func (w *failoverWatch) transition(t *busv1.Transition) {
	u := Update{
		State:    State(t.GetState()),
		Reason:   t.GetReason(),
		Since:    t.GetTime().AsTime(),
		Sequence: t.GetSequence(),
	}
	if t.GetRemoved() {
		u.State = StateUnknownGroup
		u.Reason = fmt.Sprintf("%s no longer has group %s: %s", w.source, w.group, t.GetReason())
	}
	w.send(u)
}

func (w *failoverWatch) producerGone(err error) {
	if w.gone {
		w.cfg.logger.Debug("failover producer still unreachable", "group", w.group, "error", err)
		return
	}
	w.gone = true
	w.cfg.logger.Warn("failover producer gone", "group", w.group, "error", err)
	w.send(Update{State: StateProducerGone, Reason: err.Error(), Since: time.Now(), Err: err})
}

// send replaces the unread update, if any, with u.
func (w *failoverWatch) send(u Update) {
	u.Group, u.Source, u.BootID = w.group, w.source, w.bootID
	select {
	case unread := <-w.updates:
		u.Restarted = u.Restarted || unread.Restarted
	default:
	}
	// Cannot block: this goroutine is the only sender and the slot is free.
	w.updates <- u
}

func (w *failoverWatch) producerName() string {
	if w.source == "" {
		return "the producer"
	}
	return w.source
}
