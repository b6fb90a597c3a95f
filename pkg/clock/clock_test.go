package clock

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var epoch = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// step is one operation of a timer scenario; the scenario's trace records
// what each operation observed.
type step struct {
	op string // timer, ticker, afterfunc, advance, stop, reset, recv
	d  time.Duration
}

func timer(d time.Duration) step     { return step{"timer", d} }
func ticker(d time.Duration) step    { return step{"ticker", d} }
func afterFunc(d time.Duration) step { return step{"afterfunc", d} }
func advance(d time.Duration) step   { return step{"advance", d} }
func reset(d time.Duration) step     { return step{"reset", d} }

var (
	stop = step{op: "stop"}
	recv = step{op: "recv"}
)

// runScenario plays steps against clk, moving time with advance, and returns
// the trace: "stop=true", "recv=10ms" (the received time as an offset from
// start), "recv=none", "fired@10ms" (an AfterFunc callback ran).
func runScenario(clk Clock, advance func(time.Duration), steps []step) string {
	start := clk.Now()
	var (
		trace   []string
		traceMu sync.Mutex
		tm      Timer
		tk      Ticker
	)
	record := func(s string) {
		traceMu.Lock()
		defer traceMu.Unlock()
		trace = append(trace, s)
	}
	ch := func() <-chan time.Time {
		if tk != nil {
			return tk.C()
		}
		return tm.C()
	}
	for _, s := range steps {
		switch s.op {
		case "timer":
			tm = clk.NewTimer(s.d)
		case "ticker":
			tk = clk.NewTicker(s.d)
		case "afterfunc":
			tm = clk.AfterFunc(s.d, func() { record(fmt.Sprintf("fired@%v", clk.Now().Sub(start))) })
		case "advance":
			advance(s.d)
		case "stop":
			if tk != nil {
				tk.Stop()
				record("stop")
			} else {
				record(fmt.Sprintf("stop=%v", tm.Stop()))
			}
		case "reset":
			if tk != nil {
				tk.Reset(s.d)
				record("reset")
			} else {
				record(fmt.Sprintf("reset=%v", tm.Reset(s.d)))
			}
		case "recv":
			select {
			case at := <-ch():
				record(fmt.Sprintf("recv=%v", at.Sub(start)))
			default:
				record("recv=none")
			}
		default:
			panic("unknown step " + s.op)
		}
	}
	return strings.Join(trace, " ")
}

// TestFakeMatchesTime plays each scenario on the time package (inside a
// synctest bubble, where time.Sleep is exact and instant) and on a Fake: the
// Fake must behave like time.Timer and time.Ticker do since Go 1.23.
func TestFakeMatchesTime(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"stop before expiry", []step{timer(10 * ms), advance(5 * ms), stop, advance(10 * ms), recv},
			"stop=true recv=none"},
		{"stop after expiry discards the unreceived value", []step{timer(10 * ms), advance(10 * ms), stop, recv},
			"stop=true recv=none"},
		{"stop after the value was received", []step{timer(10 * ms), advance(10 * ms), recv, stop},
			"recv=10ms stop=false"},
		{"second stop", []step{timer(10 * ms), stop, stop}, "stop=true stop=false"},
		{"reset after expiry discards the stale value", []step{timer(10 * ms), advance(15 * ms), reset(10 * ms), recv, advance(10 * ms), recv},
			"reset=true recv=none recv=25ms"},
		{"reset of a stopped timer", []step{timer(10 * ms), stop, reset(5 * ms), advance(5 * ms), recv},
			"stop=true reset=false recv=5ms"},
		{"reset before expiry postpones", []step{timer(10 * ms), advance(8 * ms), reset(10 * ms), advance(8 * ms), recv, advance(2 * ms), recv},
			"reset=true recv=none recv=18ms"},
		{"zero timer fires at once", []step{timer(0), recv}, "recv=0s"},
		{"reset to zero fires at once", []step{timer(time.Hour), reset(0), recv}, "reset=true recv=0s"},
		{"ticker keeps one tick for a slow reader", []step{ticker(10 * ms), advance(35 * ms), recv, recv, advance(10 * ms), recv},
			"recv=10ms recv=none recv=40ms"},
		{"ticker reset restarts the period", []step{ticker(10 * ms), advance(15 * ms), reset(20 * ms), recv, advance(20 * ms), recv},
			"reset recv=none recv=35ms"},
		{"ticker stop discards and silences", []step{ticker(10 * ms), advance(10 * ms), stop, recv, advance(30 * ms), recv},
			"stop recv=none recv=none"},
		{"afterfunc fires once", []step{afterFunc(10 * ms), advance(9 * ms), advance(1 * ms), stop, advance(20 * ms)},
			"fired@10ms stop=false"},
		{"afterfunc stopped in time", []step{afterFunc(10 * ms), advance(9 * ms), stop, advance(20 * ms)},
			"stop=true"},
		{"afterfunc reset after firing runs again", []step{afterFunc(10 * ms), advance(10 * ms), reset(5 * ms), advance(5 * ms)},
			"fired@10ms reset=false fired@15ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("time", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					got := runScenario(Real(), func(d time.Duration) {
						time.Sleep(d)
						synctest.Wait() // let AfterFunc goroutines finish
					}, tt.steps)
					if got != tt.want {
						t.Errorf("time package: got %q, want %q", got, tt.want)
					}
				})
			})
			t.Run("fake", func(t *testing.T) {
				f := NewFake(epoch)
				if got := runScenario(f, f.Advance, tt.steps); got != tt.want {
					t.Errorf("Fake: got %q, want %q", got, tt.want)
				}
			})
		})
	}
}

func TestFakeFiresInTimeOrderAcrossOneAdvance(t *testing.T) {
	const ms = time.Millisecond
	f := NewFake(epoch, WithChannelBuffer(16))
	var fired []string
	at := func(name string) func() {
		return func() { fired = append(fired, fmt.Sprintf("%s@%v", name, f.Now().Sub(epoch))) }
	}
	fast := f.NewTicker(10 * ms)
	slow := f.NewTicker(15 * ms)
	f.AfterFunc(30*ms, at("b"))
	f.AfterFunc(30*ms, at("c")) // same instant: arming order decides
	f.AfterFunc(25*ms, func() {
		at("a")()
		// Armed while advancing and due inside this Advance: fires in it.
		f.AfterFunc(10*ms, at("d"))
	})
	f.AfterFunc(61*ms, at("late"))

	f.Advance(60 * ms)

	if got, want := strings.Join(fired, " "), "a@25ms b@30ms c@30ms d@35ms"; got != want {
		t.Errorf("callbacks fired %q, want %q", got, want)
	}
	if got, want := drain(fast.C()), "10ms 20ms 30ms 40ms 50ms 60ms"; got != want {
		t.Errorf("fast ticker sent %q, want %q", got, want)
	}
	if got, want := drain(slow.C()), "15ms 30ms 45ms 60ms"; got != want {
		t.Errorf("slow ticker sent %q, want %q", got, want)
	}
	if got, want := f.Now(), epoch.Add(60*ms); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	if got, want := f.Waiters(), 3; got != want { // two tickers and "late"
		t.Errorf("Waiters() = %d, want %d", got, want)
	}
}

func drain(ch <-chan time.Time) string {
	var got []string
	for {
		select {
		case at := <-ch:
			got = append(got, at.Sub(epoch).String())
		default:
			return strings.Join(got, " ")
		}
	}
}

func TestFakeBlockUntilWaitsForArmedTimers(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	proceed := make(chan struct{})
	fired := make(chan time.Time)
	go func() {
		<-proceed
		tm := f.NewTimer(time.Second)
		fired <- <-tm.C()
	}()
	close(proceed)
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Second)
	select {
	case at := <-fired:
		if want := epoch.Add(time.Second); !at.Equal(want) {
			t.Errorf("timer sent %v, want %v", at, want)
		}
	case <-ctx.Done():
		t.Fatal("timer armed before Advance did not fire")
	}
	if got := f.Waiters(); got != 0 {
		t.Errorf("Waiters() after firing = %d, want 0", got)
	}
}

func TestFakeBlockUntilGivesUpWithContext(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.BlockUntil(ctx, 1); err == nil {
		t.Fatal("BlockUntil with no armed timer and a cancelled context returned nil")
	}
}

func TestFakeZeroAfterFuncRunsOnNextAdvance(t *testing.T) {
	f := NewFake(epoch)
	ran := false
	f.AfterFunc(0, func() { ran = true })
	if ran {
		t.Fatal("AfterFunc(0) ran inside AfterFunc")
	}
	f.Advance(0)
	if !ran {
		t.Fatal("AfterFunc(0) did not run during Advance(0)")
	}
}

func TestFakePanics(t *testing.T) {
	f := NewFake(epoch)
	tests := []struct {
		name string
		call func()
	}{
		{"negative advance", func() { f.Advance(-time.Second) }},
		{"zero ticker", func() { f.NewTicker(0) }},
		{"zero ticker reset", func() { f.NewTicker(time.Second).Reset(0) }},
		{"empty channel buffer", func() { WithChannelBuffer(0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			tt.call()
		})
	}
}
