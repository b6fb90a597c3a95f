package engine

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// next reads one change, failing after patience.
func next(t *testing.T, m *Monitor) StateChange {
	t.Helper()
	select {
	case c, ok := <-m.Changes():
		if !ok {
			t.Fatal("Changes closed")
		}
		return c
	case <-time.After(patience):
		t.Fatal("no state change")
	}
	return StateChange{}
}

// TestVR_O09_MonitorSeesEveryTransition: a monitor sees the election and
// the resignation in order, with the group, the time and the reason.
func TestVR_O09_MonitorSeesEveryTransition(t *testing.T) {
	l := newLAN()
	high, low := newRouter(t, l, 1, nil), newRouter(t, l, 2, nil)
	m := high.eng.Monitor(16)
	defer m.Close()
	start := l.clk.Now()
	elect(t, l, high, low)
	if err := high.eng.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []struct{ from, to fsm.State }{{fsm.Init, fsm.Backup}, {fsm.Backup, fsm.Master}, {fsm.Master, fsm.Init}}
	for _, w := range want {
		c := next(t, m)
		if c.Group != key99 || c.From != w.from || c.To != w.to || c.Reason == "" || c.Time.Before(start) {
			t.Errorf("change %+v, want %s %s -> %s with a reason and a time", c, key99, w.from, w.to)
		}
	}
	if m.Dropped() != 0 {
		t.Errorf("Dropped = %d with room in the buffer", m.Dropped())
	}
}

// A monitor that never reads loses changes, counted, and never holds up
// the loop: the election completes and requests are answered.
func TestVR_O09_SlowMonitorNeverBlocksTheEngine(t *testing.T) {
	l := newLAN()
	high, low := newRouter(t, l, 1, nil), newRouter(t, l, 2, nil)
	stalled := high.eng.Monitor(1)
	defer stalled.Close()
	elect(t, l, high, low) // INIT->BACKUP kept, BACKUP->MASTER dropped
	if err := high.eng.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both later changes dropped", func() bool { return stalled.Dropped() == 2 })
	if c := next(t, stalled); c.To != fsm.Backup {
		t.Errorf("kept change %+v, want the first one (to BACKUP)", c)
	}
}

// Closing a monitor, even while transitions happen, closes its channel and
// stops delivery; the others keep receiving.
func TestVR_O09_MonitorClose(t *testing.T) {
	l := newLAN()
	high, low := newRouter(t, l, 1, nil), newRouter(t, l, 2, nil)
	gone, kept := high.eng.Monitor(16), high.eng.Monitor(16)
	defer kept.Close()
	var wg sync.WaitGroup
	wg.Go(func() { gone.Close() })
	elect(t, l, high, low)
	wg.Wait()
	gone.Close() // twice is fine
	for range gone.Changes() {
		// what arrived before Close may be read; then it ends
	}
	if c := next(t, kept); c.To != fsm.Backup {
		t.Errorf("remaining monitor got %+v", c)
	}
	select {
	case <-high.eng.Done():
		t.Error("Done closed while Run runs")
	default:
	}
}

// TestVR_O09_DebugEventsOnlyWhenSomeoneListens: every event fed to a
// machine is logged at debug level, which a debug subscriber of the log
// ring receives while the log itself stays at info.
func TestVR_O09_DebugEventsOnlyWhenSomeoneListens(t *testing.T) {
	l := newLAN()
	ring := daemon.NewLogRing(100)
	logger := slog.New(ring.Handler(slog.NewTextHandler(&strings.Builder{}, nil)))
	debug := ring.Subscribe(slog.LevelDebug, 1000)
	defer debug.Close()
	high := newRouter(t, l, 1, nil, func(o *Options) { o.Logger = logger })
	high.apply(t, oneGroup(t, 200, ""))
	high.waitState(t, key99, fsm.Backup)

	var event daemon.LogEntry
	for event.Message != "VRRP event" {
		select {
		case event = <-debug.Records():
		case <-time.After(patience):
			t.Fatal("no debug event record")
		}
	}
	if g, _ := event.Attr("group"); g != "eth0/99" {
		t.Errorf("debug record %+v does not name the group", event)
	}
	if ev, _ := event.Attr("event"); !strings.HasPrefix(ev, "fsm.") {
		t.Errorf("debug record %+v does not name the event", event)
	}
	for _, e := range ring.Last(0) {
		if e.Level < slog.LevelInfo {
			t.Errorf("debug record %q reached the info-level log", e.Message)
		}
	}
}
