package netlab

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Condition reports whether what a caller waits for holds and, either way, a
// short description of the state it saw, quoted when the wait fails.
type Condition func() (ok bool, status string)

// Poll intervals: start fast so quick conditions cost little, back off so slow
// ones do not spin.
const (
	firstPollInterval = 5 * time.Millisecond
	maxPollInterval   = 100 * time.Millisecond
)

// Poll checks cond until it holds, timeout passes or ctx ends. The error
// gives the time waited and the last status seen.
func Poll(ctx context.Context, timeout time.Duration, cond Condition) error {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	interval := firstPollInterval
	for {
		ok, status := cond()
		if ok {
			return nil
		}
		tick := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			tick.Stop()
			return fmt.Errorf("gave up after %v: %w; last status: %s", since(start), context.Cause(ctx), status)
		case <-deadline.C:
			tick.Stop()
			// One last look: the deadline may have passed while cond ran.
			if ok, status = cond(); ok {
				return nil
			}
			return fmt.Errorf("condition not met after %v (timeout %v); last status: %s", since(start), timeout, status)
		case <-tick.C:
		}
		interval = min(2*interval, maxPollInterval)
	}
}

// WaitFor polls cond until it holds, failing the test with the time waited
// and the last status when timeout passes or the test ends first. It is the
// only way a test should wait. Like t.Fatal, call it from the test's
// goroutine.
func WaitFor(tb testing.TB, timeout time.Duration, cond Condition) {
	tb.Helper()
	if err := Poll(tb.Context(), timeout, cond); err != nil {
		tb.Fatal(err)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
