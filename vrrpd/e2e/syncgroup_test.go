//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// Example 2-3/2-4's second LAN, on eth1: group 101.
const (
	vip2      = "172.16.30.24"
	syncGroup = "ALPHA"
)

// TestVR_B27_B28_SyncGroupFailsOverTogether runs Examples 2-3 (R1, 150) and
// 2-4 (R2, 20): groups 99 on eth0 and 101 on eth1 in sync group ALPHA.
// When R1's eth1 cable is cut, its group 101 goes FAULT and its healthy
// group 99 follows to BACKUP (VR-B27) and stays there despite its higher
// priority, so R2 is master of both; with the cable back R1 takes both back
// together (VR-B28). The host on both LANs reaches both VIPs throughout.
func TestVR_B27_B28_SyncGroupFailsOverTogether(t *testing.T) {
	bin := binary(t)
	read := func(name string) string {
		b, err := os.ReadFile("testdata/guide/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	master, backup := read("example-2-3-vrrp-sync-group-master.conf"), read("example-2-4-vrrp-sync-group-backup.conf")
	tests := []struct {
		name string
		// edit turns an example into the case's configuration.
		edit func(string) string
		skip string
	}{
		{
			name: "legacy",
			edit: func(s string) string {
				s = strings.ReplaceAll(s, "interface { } ", "")
				return strings.ReplaceAll(s, "rfc3768-compatibility ", "")
			},
		},
		{name: "VR-B18 Examples 2-3 and 2-4 as printed", edit: func(s string) string { return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			t.Parallel()
			lab := newSyncLab(t)
			host := lab.Node("host")
			r1 := startRouterConfig(t, bin, lab.Node("r1"), tt.edit(master))
			r2 := startRouterConfig(t, bin, lab.Node("r2"), tt.edit(backup))
			nodes := []*netlab.Node{r1.node, r2.node}
			converged := func(m, b *router) {
				t.Helper()
				for _, key := range []string{"eth0/99", "eth1/101"} {
					m.waitGroup(t, key, vrrpv1.State_STATE_MASTER)
					b.waitGroup(t, key, vrrpv1.State_STATE_BACKUP)
				}
				m.waitSyncGroup(t, syncGroup, vrrpv1.State_STATE_MASTER)
				b.waitSyncGroup(t, syncGroup, vrrpv1.State_STATE_BACKUP)
				waitOnlyHolder(t, vip, m.node, nodes...)
				waitOnlyHolder(t, vip2, m.node, nodes...)
				host.WaitPing(t, vip, patience)
				host.WaitPing(t, vip2, patience)
			}
			converged(r1, r2)

			t.Log("cut R1's eth1 cable: its group 101 goes FAULT, group 99 must follow")
			if err := r1.node.CutPort("eth1"); err != nil {
				t.Fatal(err)
			}
			r1.waitGroup(t, "eth1/101", vrrpv1.State_STATE_FAULT)
			r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
			for _, key := range []string{"eth0/99", "eth1/101"} {
				r2.waitGroup(t, key, vrrpv1.State_STATE_MASTER)
			}
			r2.waitSyncGroup(t, syncGroup, vrrpv1.State_STATE_MASTER)
			waitOnlyHolder(t, vip, r2.node, nodes...)
			waitOnlyHolder(t, vip2, r2.node, nodes...)
			host.WaitPing(t, vip, patience)
			host.WaitPing(t, vip2, patience)
			// Several Master_Down intervals: R1's group 99 (150, preempt
			// true) hears R2 at 20 all along and must not take it back.
			holdsFor(t, 4*time.Second, r1.isState(t.Context(), "eth0/99", vrrpv1.State_STATE_BACKUP))
			if state, err := r1.syncGroupState(t.Context(), syncGroup); err != nil || state == vrrpv1.State_STATE_MASTER {
				t.Errorf("R1's sync group %s is %v (%v) with a member in FAULT, want not MASTER", syncGroup, state, err)
			}

			t.Log("restore the cable: R1 takes both groups back")
			if err := r1.node.RestorePort("eth1"); err != nil {
				t.Fatal(err)
			}
			converged(r1, r2)
		})
	}
}

// newSyncLab is Examples 2-3/2-4's network: two LANs, 172.16.0.0/24 on eth0
// and 172.16.30.0/24 on eth1, with R1 (.2), R2 (.3) and a host (.100) on
// both.
func newSyncLab(t *testing.T) *netlab.Lab {
	netlab.RequirePrivileged(t)
	node := func(name, last string) netlab.NodeSpec {
		return netlab.NodeSpec{Name: name, Interfaces: []netlab.Interface{
			{Name: "eth0", Bridge: "lan0", Addrs: []string{"172.16.0." + last + "/24"}},
			{Name: "eth1", Bridge: "lan1", Addrs: []string{"172.16.30." + last + "/24"}},
		}}
	}
	return netlab.New(t, netlab.Topology{
		Bridges: []string{"lan0", "lan1"},
		Nodes:   []netlab.NodeSpec{node("host", "100"), node("r1", "2"), node("r2", "3")},
	})
}

// syncGroupState is the sync group's state in `show vrrp sync-group --json`.
func (r *router) syncGroupState(ctx context.Context, name string) (vrrpv1.State, error) {
	out, code := r.cli(ctx, "show", "vrrp", "sync-group", "--json")
	if code != 0 {
		return 0, fmt.Errorf("show vrrp sync-group on %s exited %d: %s", r.node.Name(), code, out)
	}
	var resp vrrpv1.ShowSyncGroupsResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return 0, fmt.Errorf("parse show vrrp sync-group --json: %v", err)
	}
	for _, sg := range resp.SyncGroups {
		if sg.Name == name {
			return sg.State, nil
		}
	}
	return 0, fmt.Errorf("%s has no sync group %s", r.node.Name(), name)
}

func (r *router) waitSyncGroup(t *testing.T, name string, want vrrpv1.State) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		got, err := r.syncGroupState(t.Context(), name)
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("%s sync group %s is %s", r.node.Name(), name, got)
	})
}
