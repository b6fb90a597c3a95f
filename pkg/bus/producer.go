package bus

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// DefaultWatchBuffer is how many transitions a watcher may fall behind
// before it is disconnected.
const DefaultWatchBuffer = 256

// Producer implements the Failover service for a daemon that produces
// failover state: register it with busv1.RegisterFailoverServer and report
// every transition with [Producer.Publish]. It is safe for concurrent use;
// one mutex guards all of its state, and nothing blocks while holding it.
type Producer struct {
	busv1.UnimplementedFailoverServer

	source      string
	bootID      string
	logger      *slog.Logger
	now         func() time.Time
	watchBuffer int
	onDemotion  func(group string)

	closing chan struct{} // closed by Close: every stream ends

	mu           sync.Mutex
	closed       bool
	sequence     uint64 // of the latest transition, across all groups
	groups       map[string]*groupState
	watchers     map[*watcher]struct{}
	holders      map[string]map[*holder]struct{} // by group; a group need not exist
	prepareID    uint64
	lastPrepares map[string]*busv1.PrepareReport // by group
}

// groupState is what a producer knows about one of its groups.
type groupState struct {
	state    busv1.State
	reason   string
	since    time.Time
	sequence uint64
}

// watcher is one Watch stream.
type watcher struct {
	group       string // "" for every group
	transitions chan *busv1.Transition
	// fellBehind is closed when transitions overflowed; the stream ends
	// and the client must re-read the snapshot.
	fellBehind chan struct{}
}

// ProducerOption configures [NewProducer].
type ProducerOption func(*Producer)

// WithNow sets the clock for timestamps, durations and Prepare deadlines
// (e.g. a fake clock's Now in tests).
func WithNow(now func() time.Time) ProducerOption {
	return func(p *Producer) { p.now = now }
}

// WithWatchBuffer sets how many transitions a watcher may fall behind before
// it is disconnected (default [DefaultWatchBuffer]).
func WithWatchBuffer(n int) ProducerOption {
	return func(p *Producer) { p.watchBuffer = max(n, 1) }
}

// WithDemotionHook calls hook after a group went from no demotion to at
// least one, or back; the hook reads the current value with
// [Producer.Demoted] (calls from different holders' streams may arrive out
// of order). It runs on the goroutine of the holder's stream, never under
// the producer's lock, and must not block: hand it to the daemon's own loop.
func WithDemotionHook(hook func(group string)) ProducerOption {
	return func(p *Producer) { p.onDemotion = hook }
}

// NewProducer returns a producer for source (the daemon's name, e.g.
// "vrrpd") with a fresh random boot id. It starts nothing.
func NewProducer(source string, logger *slog.Logger, opts ...ProducerOption) *Producer {
	p := &Producer{
		source:       source,
		bootID:       rand.Text(),
		logger:       orDiscard(logger),
		now:          time.Now,
		watchBuffer:  DefaultWatchBuffer,
		closing:      make(chan struct{}),
		groups:       make(map[string]*groupState),
		watchers:     make(map[*watcher]struct{}),
		holders:      make(map[string]map[*holder]struct{}),
		lastPrepares: make(map[string]*busv1.PrepareReport),
	}
	for _, opt := range opts {
		opt(p)
	}
	return p
}

// BootID is this producer's random id, new at every process start.
func (p *Producer) BootID() string { return p.bootID }

// Publish records that group entered state for reason and sends the
// transition to every watcher. Publishing the state the group is already in
// is a no-op, so a caller may publish its current state whenever it likes.
// The first Publish of a group creates it.
func (p *Producer) Publish(group string, state busv1.State, reason string) error {
	if group == "" {
		return fmt.Errorf("publish %v: empty group name", state)
	}
	if !publishable(state) {
		return fmt.Errorf("publish %s: %v is not a producer state", group, state)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	g, exists := p.groups[group]
	previous := busv1.State_STATE_UNSPECIFIED
	if exists {
		if g.state == state {
			return nil
		}
		previous = g.state
	}
	p.sequence++
	now := p.now()
	p.groups[group] = &groupState{state: state, reason: reason, since: now, sequence: p.sequence}
	p.broadcast(&busv1.Transition{
		Source:        p.source,
		Group:         group,
		State:         state,
		PreviousState: previous,
		Reason:        reason,
		Sequence:      p.sequence,
		BootId:        p.bootID,
		Time:          timestamppb.New(now),
	})
	p.logger.Info("failover state changed", "group", group, "state", State(state), "previous", State(previous),
		"reason", reason, "sequence", p.sequence)
	return nil
}

// Remove deletes a deconfigured group. Watchers get a final transition with
// Removed set and state UNSPECIFIED (consumers see [StateUnknownGroup]);
// the group is gone from List and from later snapshots. Gate holders and
// demotions on it stay: they are keyed by name and apply again if the group
// comes back.
func (p *Producer) Remove(group string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, exists := p.groups[group]
	if !exists {
		return
	}
	delete(p.groups, group)
	delete(p.lastPrepares, group)
	p.sequence++
	const reason = "removed from the configuration"
	p.broadcast(&busv1.Transition{
		Source:        p.source,
		Group:         group,
		State:         busv1.State_STATE_UNSPECIFIED,
		PreviousState: g.state,
		Reason:        reason,
		Sequence:      p.sequence,
		BootId:        p.bootID,
		Time:          timestamppb.New(p.now()),
		Removed:       true,
	})
	p.logger.Info("failover group removed", "group", group, "previous", State(g.state), "sequence", p.sequence)
}

// Close ends every Watch and Hold stream with Unavailable and makes pending
// Prepare calls return, so that grpc's GracefulStop can finish. The producer
// still records Publish calls, but nobody hears them.
func (p *Producer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.closing)
	}
}

// broadcast sends t to every interested watcher. A watcher whose buffer is
// full is dropped instead of blocking the producer. Call with p.mu held.
func (p *Producer) broadcast(t *busv1.Transition) {
	for w := range p.watchers {
		if w.group != "" && w.group != t.Group {
			continue
		}
		select {
		case w.transitions <- t:
		default:
			close(w.fellBehind)
			delete(p.watchers, w)
		}
	}
}

// List implements busv1.FailoverServer.
func (p *Producer) List(context.Context, *busv1.ListRequest) (*busv1.ListResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &busv1.ListResponse{
		Source:   p.source,
		BootId:   p.bootID,
		Sequence: p.sequence,
		Groups:   p.statusesLocked(""),
	}, nil
}

// Watch implements busv1.FailoverServer.
func (p *Producer) Watch(req *busv1.WatchRequest, stream busv1.Failover_WatchServer) error {
	w, snapshot, end, err := p.addWatcher(req.GetGroup())
	if err != nil {
		return err
	}
	defer p.removeWatcher(w)
	for _, s := range snapshot {
		if err := stream.Send(&busv1.WatchResponse{Event: &busv1.WatchResponse_Status{Status: s}}); err != nil {
			return err
		}
	}
	if err := stream.Send(&busv1.WatchResponse{Event: &busv1.WatchResponse_EndOfSnapshot{EndOfSnapshot: end}}); err != nil {
		return err
	}
	for {
		select {
		case t := <-w.transitions:
			if err := stream.Send(&busv1.WatchResponse{Event: &busv1.WatchResponse_Transition{Transition: t}}); err != nil {
				return err
			}
		case <-w.fellBehind:
			p.logger.Warn("disconnected a watcher that fell behind", "group", req.GetGroup(), "buffer", p.watchBuffer)
			return status.Errorf(codes.ResourceExhausted,
				"watcher fell more than %d transitions behind: watch again to re-read the snapshot", p.watchBuffer)
		case <-p.closing:
			return p.errClosed()
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// addWatcher registers a watcher and takes the snapshot in one step, so the
// watcher gets every transition after the snapshot and none before it.
func (p *Producer) addWatcher(group string) (*watcher, []*busv1.GroupStatus, *busv1.EndOfSnapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, nil, p.errClosed()
	}
	w := &watcher{
		group:       group,
		transitions: make(chan *busv1.Transition, p.watchBuffer),
		fellBehind:  make(chan struct{}),
	}
	p.watchers[w] = struct{}{}
	end := &busv1.EndOfSnapshot{Source: p.source, BootId: p.bootID, Sequence: p.sequence}
	return w, p.statusesLocked(group), end, nil
}

func (p *Producer) removeWatcher(w *watcher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.watchers, w)
}

// statusesLocked returns the status of one group, or of every group sorted
// by name when group is "". Call with p.mu held.
func (p *Producer) statusesLocked(group string) []*busv1.GroupStatus {
	var names []string
	if group == "" {
		for name := range p.groups {
			names = append(names, name)
		}
		slices.Sort(names)
	} else if _, exists := p.groups[group]; exists {
		names = []string{group}
	}
	statuses := make([]*busv1.GroupStatus, 0, len(names))
	for _, name := range names {
		g := p.groups[name]
		statuses = append(statuses, &busv1.GroupStatus{
			Group:       name,
			State:       g.state,
			Reason:      g.reason,
			Since:       timestamppb.New(g.since),
			Sequence:    g.sequence,
			Demoted:     p.demotedLocked(name),
			Holders:     p.holderStatusesLocked(name),
			LastPrepare: p.lastPrepares[name],
		})
	}
	return statuses
}

func (p *Producer) errClosed() error {
	return status.Errorf(codes.Unavailable, "%s is shutting down", p.source)
}
