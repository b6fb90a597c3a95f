package engine

import (
	"context"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/bus"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// TestEngineSyncGroupGateDelaysVIPs: a gate holder that follows a sync
// group, as ctsyncd with the guide's Example 4-8 follows sync group
// TESTING, gates the takeover of its members as a member's own holder
// does: a MASTER adds its VIPs only once that holder is ready. (The lab
// found vrrpd asking the member's holders only, so ctsyncd's commit could
// come after the VIPs.)
func TestEngineSyncGroupGateDelaysVIPs(t *testing.T) {
	l := newLANAt(time.Now())
	producer, path := serveProducer(t)
	release := make(chan struct{})
	prepared := make(chan string, 2)
	syncGroup := SyncGroupPrefix + "ALPHA"
	holder := bus.NewHolder(bus.DialerFor(path), syncGroup, "ctsyncd", func(ctx context.Context, req bus.PrepareRequest) error {
		prepared <- req.Group
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	runHolder(t, holder)
	if err := producer.Publish(syncGroup, busv1.State_STATE_INIT, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "holder registered", func() bool {
		resp, err := producer.List(t.Context(), &busv1.ListRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range resp.GetGroups() {
			if g.GetGroup() == syncGroup && len(g.GetHolders()) > 0 {
				return true
			}
		}
		return false
	})

	owner := newRouter(t, l, 1, producer)
	owner.apply(t, oneGroup(t, 255, "gate-deadline 60 sync-group ALPHA"))
	select {
	case g := <-prepared:
		if g != syncGroup {
			t.Fatalf("the holder got a Prepare for %q, want %q", g, syncGroup)
		}
	case <-time.After(patience):
		t.Fatal("the sync group's holder got no Prepare")
	}
	if st := owner.status(t, key99); st.State != fsm.Master || !st.Preparing || owner.hasVIP("172.16.0.24/24") {
		t.Fatalf("before the sync group's gate is ready: state %s preparing %v, kernel:\n%s", st.State, st.Preparing, owner.kern)
	}
	close(release)
	eventually(t, "VIP added once ready", func() bool { return owner.hasVIP("172.16.0.24/24") })
	if tk := owner.status(t, key99).LastTakeover; !tk.Gates.Ready() || len(tk.Gates.Holders) != 1 {
		t.Errorf("takeover not recorded with the sync group's holder: %+v", tk)
	}
}
