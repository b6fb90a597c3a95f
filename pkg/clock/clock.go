// Package clock lets code read time and arm timers through an injected Clock,
// so protocol cores (VRRP timers at 10 ms, heartbeat deadtime, health-check
// intervals) run against Real time in production and against a Fake in tests,
// where time only moves when the test says so.
//
// Timers and tickers follow the semantics of time.Timer and time.Ticker since
// Go 1.23: after Stop or Reset returns, no stale value is received from C.
package clock

import "time"

// Clock is the source of time and timers. Real and *Fake implement it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a Timer that sends the time on its channel once d has
	// elapsed, like time.NewTimer.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a Ticker that sends the time every d, like
	// time.NewTicker. It panics if d <= 0.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f once d has elapsed, like time.AfterFunc. The
	// returned Timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the interface of *time.Timer.
type Timer interface {
	// C returns the channel the expiry time is sent on (nil for AfterFunc).
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether the timer was
	// still pending: armed, or fired with the value not yet received.
	Stop() bool
	// Reset re-arms the timer to fire after d, discarding any value not yet
	// received. It reports whether the timer was pending, as Stop does.
	Reset(d time.Duration) bool
}

// Ticker is the interface of *time.Ticker.
type Ticker interface {
	// C returns the channel the ticks are sent on.
	C() <-chan time.Time
	// Stop turns the ticker off; a tick not yet received is discarded.
	Stop()
	// Reset stops the ticker and restarts it with period d. It panics if
	// d <= 0.
	Reset(d time.Duration)
}

// Real returns the Clock backed by the time package.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time   { return r.t.C }
func (r realTicker) Stop()                 { r.t.Stop() }
func (r realTicker) Reset(d time.Duration) { r.t.Reset(d) }
