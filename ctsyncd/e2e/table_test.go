//go:build e2e

package e2e

import (
	"context"
	"iter"
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// fillTable writes n established TCP connections between addresses of
// no node here into the node's conntrack table, in ctnl's batches: the
// "50k other entries" of the acceptance test, which R2 must commit
// before its VIPs come up.
func fillTable(t *testing.T, node *netlab.Node, n int) {
	t.Helper()
	server := netip.MustParseAddr("10.200.0.1")
	entries := func(yield func(*ct.Entry) bool) {
		var e ct.Entry
		for i := range n {
			client := netip.AddrFrom4([4]byte{10, 128, byte(i >> 16), byte(i >> 8)})
			port := uint16(1024 + i&0xff)
			e = ct.Entry{
				Orig:    ct.Tuple{Src: client, Dst: server, Proto: ct.ProtoTCP, SrcPort: port, DstPort: 80},
				Reply:   ct.Tuple{Src: server, Dst: client, Proto: ct.ProtoTCP, SrcPort: 80, DstPort: port},
				Status:  ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed,
				Timeout: 3600,
				TCP:     ct.TCPInfo{State: ct.TCPEstablished},
			}
			if !yield(&e) {
				return
			}
		}
	}
	err := node.Do(func() error {
		conn, err := ctnl.Dial(ctnl.Options{})
		if err != nil {
			return err
		}
		defer conn.Close()
		res, err := conn.Commit(context.Background(), iter.Seq[*ct.Entry](entries))
		if err == nil && res.Failed > 0 {
			t.Logf("%d of %d entries refused: %v", res.Failed, n, res.Errors)
		}
		return err
	})
	if err != nil {
		t.Fatalf("fill %s's table: %v", node.Name(), err)
	}
}
