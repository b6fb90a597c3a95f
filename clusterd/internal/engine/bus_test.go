package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/pkg/bus"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// serveBus serves n's producer on a unix socket and returns its dialer.
func serveBus(t *testing.T, n *node) bus.Dialer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clusterd.sock")
	noGroup := bus.WithGroupLookup(func(string) (uint32, bool, error) { return 0, false, nil })
	lis, err := bus.Listen(path, noGroup)
	if err != nil {
		t.Fatal(err)
	}
	srv := bus.NewServer(path, nil, noGroup)
	busv1.RegisterFailoverServer(srv, n.producer)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return bus.DialerFor(path)
}

// waitReal polls cond in real time (for what the fake clock does not
// drive: a bus holder's stream).
func waitReal(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBusDemotionAndGates: a bus consumer's demotion keeps a node from
// taking the resources when the peer can (the peer takes them at start);
// its gate holds the takeover's data plane (no cluster IP) until it is
// ready (ARCHITECTURE.md, takeover gates).
func TestBusDemotionAndGates(t *testing.T) {
	l := newLabAt(t, time.Now()) // the fake clock runs ahead: deadlines stay ahead of the holder's real one
	r1, r2 := l.node("R1", 1), l.node("R2", 2)
	r1.start(nil)
	dial := serveBus(t, r1)
	release := make(chan struct{})
	prepared := make(chan struct{}, 1)
	holder := bus.NewHolder(dial, "cluster/cluster1", "ctsyncd", func(ctx context.Context, _ bus.PrepareRequest) error {
		prepared <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return errors.New("not ready by the deadline")
		}
	})
	holder.SetDemoted(true, "first resync not done")
	ctx, cancel := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { held <- holder.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-held })
	waitReal(t, "the holder's demotion", func() bool { d, _ := r1.producer.Demoted("cluster/cluster1"); return d })

	cfg := parse(t, spec{})
	r1.apply(cfg)
	r2.start(cfg)
	l.until("R2 holding while R1 is demoted", initDead, func() bool { return r2.holds() && r1.state() == fsm.Standby })
	if !r1.status().View.Demoted {
		t.Error("R1's view does not show the demotion")
	}

	holder.SetDemoted(false, "")
	waitReal(t, "the demotion cleared", func() bool { d, _ := r1.producer.Demoted("cluster/cluster1"); return !d })
	l.until("R1 no longer demoted", dead, func() bool { return !r1.status().View.Demoted })

	r2.crash()
	l.until("R1 claiming the resources", 2*dead, func() bool { return r1.state() == fsm.Active })
	select {
	case <-prepared:
	case <-time.After(patience):
		t.Fatal("the gate was never asked to prepare")
	}
	l.settle()
	if st := r1.status(); st.View.Phase != fsm.Preparing || r1.hasIP() {
		t.Errorf("before the gate is ready: phase %v, kernel %q", st.View.Phase, r1.kern.String())
	}
	close(release)
	l.until("R1 holding once the gate is ready", dead, r1.holds)
}
