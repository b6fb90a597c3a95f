package monitor

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/clock"
)

const patience = 30 * time.Second

// fakeProber records requests; the test injects replies.
type fakeProber struct {
	mu      sync.Mutex
	sent    []netip.Addr
	fail    map[netip.Addr]error
	replies chan Reply
	closed  bool
}

func newFakeProber() *fakeProber {
	return &fakeProber{replies: make(chan Reply), fail: map[netip.Addr]error{}}
}

func (f *fakeProber) Send(dst netip.Addr, _ uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, dst)
	return f.fail[dst]
}

func (f *fakeProber) Replies() <-chan Reply { return f.replies }

func (f *fakeProber) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeProber) sentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// nextChange waits for a published status equal to want.
func nextChange(t *testing.T, p *Pinger, want string) Status {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case st := <-p.Changes():
			if render(st) == want {
				return st
			}
		case <-timeout:
			t.Fatalf("no status %q published; now %q", want, render(p.Status()))
		}
	}
}

// TestCL_B09_B10_Pinger drives the loop with a fake clock: one request per
// monitor each interval, Reachable at the first reply, Unreachable a dead
// interval after the last.
func TestCL_B09_B10_Pinger(t *testing.T) {
	clk := clock.NewFake(t0)
	prober := newFakeProber()
	prober.fail[monitorB] = errors.New("network unreachable")
	p, err := New(prober, Config{Monitors: []netip.Addr{monitorA, monitorB}, Interval: time.Second, DeadInterval: 3 * time.Second}, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	nextChange(t, p, "10.6.0.55=Pending 96.97.98.99=Pending")
	waitFor(t, "the first requests", func() bool { return prober.sentCount() == 2 })
	prober.replies <- Reply{From: monitorA, Seq: 1}
	nextChange(t, p, "10.6.0.55=Reachable 96.97.98.99=Pending")

	block, stop := context.WithTimeout(context.Background(), patience)
	defer stop()
	for i := 1; i <= 2; i++ {
		if err := clk.BlockUntil(block, 2); err != nil { // the ticker and the expiry timer
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		waitFor(t, "the next requests", func() bool { return prober.sentCount() == 2*(i+1) })
		prober.replies <- Reply{From: monitorA, Seq: uint16(i + 1)}
		// The loop reads the clock after receiving: let it before moving on.
		waitFor(t, "the reply to be recorded", func() bool {
			return p.Status().Monitors[0].LastReply.Equal(t0.Add(time.Duration(i) * time.Second))
		})
	}
	clk.Advance(time.Second) // t0+3s: B's dead interval has passed
	st := nextChange(t, p, "10.6.0.55=Reachable 96.97.98.99=Unreachable")
	if b := st.Monitors[1]; !b.Since.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("B unreachable since %v, want t0+3s", b.Since)
	}
	if a := st.Monitors[0]; !a.LastReply.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("A's last reply at %v, want t0+2s", a.LastReply)
	}
	// A's last reply was at t0+2s: Unreachable at t0+5s, not before.
	clk.Advance(time.Second + 999*time.Millisecond)
	clk.Advance(time.Millisecond)
	st = nextChange(t, p, "10.6.0.55=Unreachable 96.97.98.99=Unreachable")
	if a := st.Monitors[0]; !a.Since.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("A unreachable since %v, want t0+5s", a.Since)
	}
	prober.replies <- Reply{From: monitorB}
	nextChange(t, p, "10.6.0.55=Unreachable 96.97.98.99=Reachable")

	// A reload keeps B and forgets A.
	if err := p.Reconfigure(ctx, Config{Monitors: []netip.Addr{monitorB}, Interval: 2 * time.Second, DeadInterval: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	nextChange(t, p, "96.97.98.99=Reachable")

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if !prober.closed {
		t.Error("Run left the prober open")
	}
}

func TestPingerRejectsBadIntervals(t *testing.T) {
	if _, err := New(newFakeProber(), Config{Interval: 0, DeadInterval: time.Second}, nil, nil); err == nil {
		t.Error("New accepted a zero interval")
	}
}
