package monitor

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0       = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	monitorA = netip.MustParseAddr("10.6.0.55")
	monitorB = netip.MustParseAddr("96.97.98.99")
)

// render shows a status as "10.6.0.55=Reachable 96.97.98.99=Pending".
func render(s Status) string {
	var parts []string
	for _, m := range s.Monitors {
		parts = append(parts, fmt.Sprintf("%s=%s", m.Addr, m.State))
	}
	return strings.Join(parts, " ")
}

// TestCL_B10_Tracker walks a tracker (dead interval 3 s) through replies
// and silences.
func TestCL_B10_Tracker(t *testing.T) {
	type step struct {
		at      time.Duration // since t0
		reply   netip.Addr    // zero: call Expire
		changed bool
		want    string
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"pending until the dead interval passes", []step{
			{at: 2999 * time.Millisecond, want: "10.6.0.55=Pending 96.97.98.99=Pending"},
			{at: 3 * time.Second, changed: true, want: "10.6.0.55=Unreachable 96.97.98.99=Unreachable"},
		}},
		{"reachable at the first reply", []step{
			{at: 10 * time.Millisecond, reply: monitorB, changed: true, want: "10.6.0.55=Pending 96.97.98.99=Reachable"},
			{at: time.Second, reply: monitorB, want: "10.6.0.55=Pending 96.97.98.99=Reachable"},
			{at: 3 * time.Second, changed: true, want: "10.6.0.55=Unreachable 96.97.98.99=Reachable"},
		}},
		{"unreachable a dead interval after the last reply", []step{
			{at: time.Second, reply: monitorA, changed: true, want: "10.6.0.55=Reachable 96.97.98.99=Pending"},
			{at: 3999 * time.Millisecond, changed: true, want: "10.6.0.55=Reachable 96.97.98.99=Unreachable"},
			{at: 4 * time.Second, changed: true, want: "10.6.0.55=Unreachable 96.97.98.99=Unreachable"},
		}},
		{"reachable again at the first reply after", []step{
			{at: 3 * time.Second, changed: true, want: "10.6.0.55=Unreachable 96.97.98.99=Unreachable"},
			{at: 60 * time.Second, reply: monitorA, changed: true, want: "10.6.0.55=Reachable 96.97.98.99=Unreachable"},
		}},
		{"a reply from elsewhere changes nothing", []step{
			{at: time.Second, reply: netip.MustParseAddr("10.6.0.1"), want: "10.6.0.55=Pending 96.97.98.99=Pending"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker([]netip.Addr{monitorA, monitorB, monitorA}, 3*time.Second, t0)
			for i, s := range tc.steps {
				var changed bool
				if s.reply.IsValid() {
					changed = tr.Reply(s.reply, at(s.at))
				} else {
					changed = tr.Expire(at(s.at))
				}
				if got := render(tr.Status()); got != s.want || changed != s.changed {
					t.Errorf("step %d: %s, changed %v; want %s, changed %v", i, got, changed, s.want, s.changed)
				}
			}
		})
	}
}

func TestCL_B10_NextExpiry(t *testing.T) {
	tr := NewTracker([]netip.Addr{monitorA, monitorB}, 3*time.Second, t0)
	tr.Reply(monitorA, t0.Add(2*time.Second))
	if next, ok := tr.NextExpiry(); !ok || !next.Equal(t0.Add(3*time.Second)) {
		t.Errorf("NextExpiry = %v %v, want B's at t0+3s", next, ok)
	}
	tr.Expire(t0.Add(3 * time.Second))
	if next, ok := tr.NextExpiry(); !ok || !next.Equal(t0.Add(5*time.Second)) {
		t.Errorf("NextExpiry = %v %v, want A's at t0+5s", next, ok)
	}
	tr.Expire(t0.Add(5 * time.Second))
	if _, ok := tr.NextExpiry(); ok {
		t.Error("NextExpiry due with every monitor unreachable")
	}
	if st := tr.Status(); st.Unreachable() != 2 || st.Reachable() != 0 {
		t.Errorf("counts %d reachable %d unreachable", st.Reachable(), st.Unreachable())
	}
}

// TestCL_B23_TrackerReconfigure: kept monitors keep their state.
func TestCL_B23_TrackerReconfigure(t *testing.T) {
	monitorC := netip.MustParseAddr("10.1.0.1")
	tr := NewTracker([]netip.Addr{monitorA, monitorB}, 3*time.Second, t0)
	tr.Reply(monitorA, t0.Add(time.Second))
	if !tr.Reconfigure([]netip.Addr{monitorC, monitorA}, 10*time.Second, t0.Add(2*time.Second)) {
		t.Error("Reconfigure reported no change")
	}
	if got, want := render(tr.Status()), "10.1.0.1=Pending 10.6.0.55=Reachable"; got != want {
		t.Errorf("after reload %s, want %s", got, want)
	}
	if tr.Expire(t0.Add(5 * time.Second)) {
		t.Error("the old dead interval still applies")
	}
	if tr.Reconfigure([]netip.Addr{monitorC, monitorA}, 10*time.Second, t0.Add(6*time.Second)) {
		t.Error("an identical reload reported a change")
	}
}
