package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// StateChange is one group's transition as `monitor vrrp` shows it.
type StateChange struct {
	Time     time.Time
	Group    config.GroupKey
	From, To fsm.State
	Reason   string
}

// Monitor is one subscriber of the engine's transitions. The loop never
// waits for it: when its buffer is full further changes are dropped and
// counted, so a stalled `monitor vrrp` cannot delay a failover.
type Monitor struct {
	hub     *monitorHub
	c       chan StateChange
	dropped atomic.Uint64
	once    sync.Once
}

// Changes delivers the transitions, oldest first; Close closes it.
func (m *Monitor) Changes() <-chan StateChange { return m.c }

// Dropped counts the changes lost because the buffer was full.
func (m *Monitor) Dropped() uint64 { return m.dropped.Load() }

// Close ends the subscription and closes Changes; it may be called more
// than once, from any goroutine.
func (m *Monitor) Close() {
	m.once.Do(func() {
		m.hub.mu.Lock()
		defer m.hub.mu.Unlock()
		delete(m.hub.subs, m)
		close(m.c) // under mu: notify never sends on a closed channel
	})
}

// Monitor subscribes to every group's transitions from now on, buffering
// up to buffer of them (at least one). It does not go through the loop, so
// it works whether Run runs or not.
func (e *Engine) Monitor(buffer int) *Monitor {
	m := &Monitor{hub: &e.monitors, c: make(chan StateChange, max(buffer, 1))}
	e.monitors.mu.Lock()
	defer e.monitors.mu.Unlock()
	if e.monitors.subs == nil {
		e.monitors.subs = map[*Monitor]struct{}{}
	}
	e.monitors.subs[m] = struct{}{}
	return m
}

// Done is closed when Run has returned: no transition follows.
func (e *Engine) Done() <-chan struct{} { return e.done }

// monitorHub holds the Monitors; its zero value is ready to use.
type monitorHub struct {
	mu   sync.Mutex
	subs map[*Monitor]struct{}
}

// notify offers c to every monitor without ever waiting.
func (h *monitorHub) notify(c StateChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for m := range h.subs {
		select {
		case m.c <- c:
		default:
			m.dropped.Add(1)
		}
	}
}

// monitorTransition is the loop's hook where a group changes state.
func (e *Engine) monitorTransition(g *group, t fsm.Transition, now time.Time) {
	e.monitors.notify(StateChange{Time: now, Group: g.cfg.Key, From: t.From, To: t.To, Reason: t.Reason})
}

// debugEvent logs every event fed to a group's machine at debug level
// (`monitor vrrp --debug`, `debug vrrp on`); the check first keeps the
// formatting off the per-advert path when nobody listens.
func (e *Engine) debugEvent(g *group, ev fsm.Event) {
	if !e.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	e.log.Debug("VRRP event", "group", g.busName(), "state", g.machine.State().String(),
		"event", fmt.Sprintf("%T%+v", ev, ev))
}
