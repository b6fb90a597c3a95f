package clock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when Advance is called. Due timers,
// tickers and AfterFunc callbacks fire in time order (ties in the order they
// were armed), each seeing Now equal to its own due time.
//
// AfterFunc callbacks run synchronously on the goroutine calling Advance, so
// when Advance returns every callback that was due has finished; a callback
// may arm further timers, which fire in the same Advance if they fall due
// within it. Channel sends never block: like the time package, a timer or
// ticker whose channel is full drops the value.
type Fake struct {
	// advancing serialises Advance so concurrent callers cannot interleave
	// firings out of time order.
	advancing sync.Mutex

	mu      sync.Mutex
	now     time.Time
	nextSeq uint64
	armed   []*fakeEvent
	// changed is closed and replaced whenever the number of armed events
	// changes, waking BlockUntil.
	changed chan struct{}
	buffer  int
}

// FakeOption configures a Fake.
type FakeOption func(*Fake)

// WithChannelBuffer gives the channels of timers and tickers created by the
// Fake a buffer of n values instead of time's single value, so a test can
// Advance over many ticks at once and then receive every one of them in order.
func WithChannelBuffer(n int) FakeOption {
	if n < 1 {
		panic(fmt.Sprintf("clock: channel buffer %d, want at least 1", n))
	}
	return func(f *Fake) { f.buffer = n }
}

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time, opts ...FakeOption) *Fake {
	f := &Fake{now: start, changed: make(chan struct{}), buffer: 1}
	for _, opt := range opts {
		opt(f)
	}
	return f
}

// fakeEvent is one armed timer, ticker or AfterFunc.
type fakeEvent struct {
	clock  *Fake
	when   time.Time
	seq    uint64 // orders events due at the same instant by arming order
	period time.Duration
	ch     chan time.Time // nil for AfterFunc
	fn     func()
	armed  bool
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a Timer firing when the fake time reaches Now()+d. With
// d <= 0 the value is sent at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	ev := &fakeEvent{clock: f, ch: make(chan time.Time, f.buffer)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armLocked(ev, d)
	return (*fakeTimer)(ev)
}

// NewTicker returns a Ticker firing every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	ev := &fakeEvent{clock: f, ch: make(chan time.Time, f.buffer), period: d}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armLocked(ev, d)
	return (*fakeTicker)(ev)
}

// AfterFunc arranges for f to run during the Advance that reaches Now()+d.
// With d <= 0 it runs during the next Advance, Advance(0) included: running it
// inside AfterFunc itself could deadlock a caller holding a lock that fn needs.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	ev := &fakeEvent{clock: f, fn: fn}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armLocked(ev, d)
	return (*fakeTimer)(ev)
}

// Advance moves the fake time forward by d, firing everything that falls due
// on the way in time order. It panics if d is negative.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("clock: Advance(%v) would move time backwards", d))
	}
	f.advancing.Lock()
	defer f.advancing.Unlock()

	f.mu.Lock()
	defer f.mu.Unlock()
	target := f.now.Add(d)
	for {
		ev := f.nextDueLocked(target)
		if ev == nil {
			break
		}
		if ev.when.After(f.now) {
			f.now = ev.when
		}
		if ev.period > 0 {
			f.scheduleLocked(ev, ev.when.Add(ev.period))
		} else {
			f.disarmLocked(ev)
		}
		if ev.fn == nil {
			ev.send(f.now)
			continue
		}
		// Unlocked so the callback can read the clock and arm timers.
		f.mu.Unlock()
		ev.fn()
		f.mu.Lock()
	}
	f.now = target
}

// Waiters returns how many timers, tickers and AfterFuncs are armed.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.armed)
}

// BlockUntil waits until at least n timers, tickers and AfterFuncs are armed,
// so a test knows the code under test has armed its timers before it calls
// Advance. It returns ctx's error if ctx ends first.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		armed, changed := len(f.armed), f.changed
		f.mu.Unlock()
		if armed >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d armed timers, have %d: %w", n, armed, context.Cause(ctx))
		}
	}
}

// nextDueLocked returns the earliest armed event due at or before target.
func (f *Fake) nextDueLocked(target time.Time) *fakeEvent {
	var next *fakeEvent
	for _, ev := range f.armed {
		if ev.when.After(target) {
			continue
		}
		if next == nil || ev.when.Before(next.when) || (ev.when.Equal(next.when) && ev.seq < next.seq) {
			next = ev
		}
	}
	return next
}

// armLocked (re)arms ev to fire d from now. Channel timers already due send
// at once, which cannot block; callbacks wait for the next Advance.
func (f *Fake) armLocked(ev *fakeEvent, d time.Duration) {
	when := f.now.Add(d)
	if d <= 0 && ev.fn == nil && ev.period == 0 {
		f.disarmLocked(ev)
		ev.send(when)
		return
	}
	f.scheduleLocked(ev, when)
}

func (f *Fake) scheduleLocked(ev *fakeEvent, when time.Time) {
	ev.when = when
	ev.seq = f.nextSeq
	f.nextSeq++
	if !ev.armed {
		ev.armed = true
		f.armed = append(f.armed, ev)
		f.notifyLocked()
	}
}

func (f *Fake) disarmLocked(ev *fakeEvent) {
	if !ev.armed {
		return
	}
	ev.armed = false
	for i, other := range f.armed {
		if other == ev {
			f.armed = append(f.armed[:i], f.armed[i+1:]...)
			break
		}
	}
	f.notifyLocked()
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// send delivers t without blocking, dropping it when the buffer is full.
func (ev *fakeEvent) send(t time.Time) {
	select {
	case ev.ch <- t:
	default:
	}
}

// stopLocked disarms ev and discards values not yet received, reporting
// whether anything was pending (Go 1.23 Stop/Reset semantics).
func (ev *fakeEvent) stopLocked() bool {
	pending := ev.armed
	ev.clock.disarmLocked(ev)
	for {
		select {
		case <-ev.ch: // a nil channel (AfterFunc) is never ready
			pending = true
			continue
		default:
		}
		return pending
	}
}

type fakeTimer fakeEvent

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	ev := (*fakeEvent)(t)
	ev.clock.mu.Lock()
	defer ev.clock.mu.Unlock()
	return ev.stopLocked()
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	ev := (*fakeEvent)(t)
	ev.clock.mu.Lock()
	defer ev.clock.mu.Unlock()
	pending := ev.stopLocked()
	ev.clock.armLocked(ev, d)
	return pending
}

type fakeTicker fakeEvent

func (t *fakeTicker) C() <-chan time.Time { return t.ch }

func (t *fakeTicker) Stop() {
	ev := (*fakeEvent)(t)
	ev.clock.mu.Lock()
	defer ev.clock.mu.Unlock()
	ev.stopLocked()
}

func (t *fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive interval for Ticker.Reset")
	}
	ev := (*fakeEvent)(t)
	ev.clock.mu.Lock()
	defer ev.clock.mu.Unlock()
	ev.stopLocked()
	ev.period = d
	ev.clock.armLocked(ev, d)
}
