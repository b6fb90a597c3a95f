//go:build e2e

package bench

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// The generator's flows: TCP connections from distinct client addresses
// and ports to one server, none of them the routers' own addresses (which
// both daemons may ignore by default).
const (
	flowsPerAddr = 50_000
	flowTimeout  = 1200 // s: longer than any trial
)

var (
	flowServer    = netip.MustParseAddr("10.200.0.1")
	flowClientNet = [4]byte{10, 128, 0, 0}
)

// flow fills e with flow i: ESTABLISHED and ASSURED, as a connection that
// has seen both directions is in a stateful firewall.
func flow(e *ct.Entry, i int) {
	a := flowClientNet
	host := i / flowsPerAddr
	a[2], a[3] = byte(host>>8), byte(host)
	client := netip.AddrFrom4(a)
	port := uint16(1024 + i%flowsPerAddr)
	*e = ct.Entry{
		Orig:    ct.Tuple{Src: client, Dst: flowServer, Proto: ct.ProtoTCP, SrcPort: port, DstPort: 80},
		Reply:   ct.Tuple{Src: flowServer, Dst: client, Proto: ct.ProtoTCP, SrcPort: 80, DstPort: port},
		Status:  ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed,
		Timeout: flowTimeout,
		TCP:     ct.TCPInfo{State: ct.TCPEstablished},
	}
}

// flows are flows [from, from+n), one reused Entry (the committer copies).
func flows(from, n int) iter.Seq[*ct.Entry] {
	return func(yield func(*ct.Entry) bool) {
		var e ct.Entry
		for i := from; i < from+n; i++ {
			flow(&e, i)
			if !yield(&e) {
				return
			}
		}
	}
}

func flowKeys(from, n int) iter.Seq[ct.Key] {
	return func(yield func(ct.Key) bool) {
		var e ct.Entry
		for i := from; i < from+n; i++ {
			flow(&e, i)
			if !yield(e.Key()) {
				return
			}
		}
	}
}

// generator writes flows into a node's table through ctsyncd's own
// batched committer (ctnl.Conn.Commit: 256 requests per sendmsg, the
// kernel's fastest path, FIELD-NOTES), so the kernel, not the generator,
// sets the pace.
type generator struct {
	node *netlab.Node
	conn *ctnl.Conn
}

func newGenerator(node *netlab.Node) (*generator, error) {
	g := &generator{node: node}
	err := node.Do(func() error {
		var err error
		g.conn, err = ctnl.Dial(ctnl.Options{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: ctnetlink socket: %w", node.Name(), err)
	}
	return g, nil
}

func (g *generator) Close() error { return g.conn.Close() }

// insert creates flows [from, from+n) and returns how long the kernel took.
func (g *generator) insert(ctx context.Context, from, n int) (time.Duration, error) {
	start := time.Now()
	r, err := g.conn.Commit(ctx, flows(from, n))
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("node %s: insert %d flows: %w", g.node.Name(), n, err)
	}
	if r.Created != n {
		return took, fmt.Errorf("node %s: %d of %d flows created (%d updated, %d failed: %v): flush the table first",
			g.node.Name(), r.Created, n, r.Updated, r.Failed, errors.Join(r.Errors...))
	}
	return took, nil
}

// remove deletes flows [from, from+n).
func (g *generator) remove(ctx context.Context, from, n int) error {
	r, err := g.conn.Delete(ctx, flowKeys(from, n))
	if err != nil {
		return fmt.Errorf("node %s: delete %d flows: %w", g.node.Name(), n, err)
	}
	if r.Failed > 0 {
		return fmt.Errorf("node %s: delete %d flows: %d failed: %v", g.node.Name(), n, r.Failed, errors.Join(r.Errors...))
	}
	return nil
}

// churnStats is what churn did.
type churnStats struct {
	Created, Deleted int
	Elapsed          time.Duration
}

// churn creates flows at rate per second for window, each deleted life
// after its creation: new connections that come and go, the table
// holding about rate × life of them. Batches go every 10 ms.
func (g *generator) churn(ctx context.Context, rate int, window, life time.Duration) (churnStats, error) {
	var s churnStats
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	due := func(d time.Duration) int { return max(0, int(float64(rate)*d.Seconds())) }
	for {
		elapsed := time.Since(start)
		if n := min(due(elapsed), due(window)) - s.Created; n > 0 {
			if _, err := g.insert(ctx, s.Created, n); err != nil {
				return s, err
			}
			s.Created += n
		}
		if n := min(due(elapsed-life), s.Created) - s.Deleted; n > 0 {
			if err := g.remove(ctx, s.Deleted, n); err != nil {
				return s, err
			}
			s.Deleted += n
		}
		if elapsed >= window {
			s.Elapsed = elapsed
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
	}
}
