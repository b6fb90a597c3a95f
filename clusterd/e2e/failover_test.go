//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// TestCL_B08_B19_B20_PrimaryKilled: R1's clusterd is killed (SIGKILL: it
// leaves its cluster IP behind) and its ports cut, as a crashed router
// would; R2 takes the resources after dead-interval and the client
// reaches the cluster IP through it (CL-B08). R1's clusterd restarts with
// only the heartbeat link back, stops the services its killed run left
// running, in reverse, and removes the address it left (the ledger in its
// state directory) before the LAN returns; then,
// non-revertive, R2 keeps the resources (CL-B19), revertive, they come
// back to R1 once it is healthy (CL-B20).
func TestCL_B08_B19_B20_PrimaryKilled(t *testing.T) {
	for _, autoFailback := range []bool{false, true} {
		t.Run(fmt.Sprintf("auto-failback %t", autoFailback), func(t *testing.T) {
			lab, r1, r2 := pair(t, spec{autoFailback: autoFailback})
			client := lab.Node("client")

			if err := r1.proc.Kill(); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			for _, port := range []string{"eth0", "eth1", "eth2"} {
				if err := r1.node.CutPort(port); err != nil {
					t.Fatal(err)
				}
			}
			// CL-B08: dead-interval (1 s) and at most one keepalive after
			// R1's last heartbeat, plus the start of the address.
			t.Logf("R2 held the cluster IP %v after the SIGKILL", takeoverTime(t, r2, killed).Round(time.Millisecond))
			r2.wait(t, active)
			client.WaitPing(t, clusterIP, patience)
			r2.waitCalls(t, "a start ip=1", "b start ip=1")
			if st, err := r2.status(t.Context()); err != nil {
				t.Fatal(err)
			} else if got := peer(st).GetState(); got != clusterv1.NodeState_NODE_STATE_DOWN {
				t.Errorf("R2 sees R1 %s, want DOWN", got)
			}
			// Example 3-10.
			r2.waitReport(t, statusReport("R2", "Down", "Active", "Reachable", "Reachable", "Active on secondary R2 (this node)"))
			if held, err := holders(clusterIP, r1.node); err != nil || len(held) == 0 {
				t.Fatalf("the killed clusterd should have left %s on R1: %v %v", clusterIP, held, err)
			}

			t.Log("restart R1's clusterd with the heartbeat link back, the LAN and upstream still cut")
			if err := r1.node.RestorePort("eth1"); err != nil {
				t.Fatal(err)
			}
			r1.start(t)
			netlab.WaitFor(t, patience, onlyHolder(r2, r1, r2))
			// Without the LAN and upstream R1 reaches no monitor: it must
			// not take the resources whatever auto-failback says (CL-B11).
			r1.wait(t, downMon)
			for _, port := range []string{"eth0", "eth2"} {
				if err := r1.node.RestorePort(port); err != nil {
					t.Fatal(err)
				}
			}

			if !autoFailback {
				r1.wait(t, standby)
				holdsFor(t, 3*time.Second, all(r1.is(t.Context(), standby), r2.is(t.Context(), active), onlyHolder(r2, r1, r2)))
				client.WaitPing(t, clusterIP, patience)
				r1.waitReport(t, statusReport("R1", "Active (standby)", "Active", "Reachable", "Reachable", "Active on secondary R2"))
				// The killed run's starts, then the restarted run's stops
				// of what it left running, in reverse and before its
				// address goes; R1 never took the resources again.
				r1.waitCalls(t, "a start ip=1", "b start ip=1", "b stop ip=1", "a stop ip=1")
				return
			}
			r1.wait(t, active)
			r2.wait(t, standby)
			netlab.WaitFor(t, patience, onlyHolder(r1, r1, r2))
			client.WaitPing(t, clusterIP, patience)
			// R2 stopped its services in reverse (CL-B15), before R1
			// started them again (CL-B16).
			r2.waitCalls(t, "a start ip=1", "b start ip=1", "b stop ip=1", "a stop ip=1")
			// The killed run's starts, the restarted run's stops of what
			// it left, then the failback's starts.
			r1.waitCalls(t, "a start ip=1", "b start ip=1", "b stop ip=1", "a stop ip=1", "a start ip=1", "b start ip=1")
			handedOver(t, r2, r1)
		})
	}
}

// TestCL_B11_B12_MonitorLost: R1's upstream link is cut, so R1 reaches one
// of its two monitors while R2 still reaches both: R1 shows itself Down
// and gives the resources up, R2 takes them (CL-B11, CL-B12: the peer
// reaches strictly more monitors, CL-Q04).
func TestCL_B11_B12_MonitorLost(t *testing.T) {
	lab, r1, r2 := pair(t, spec{})
	if err := r1.node.CutPort("eth2"); err != nil {
		t.Fatal(err)
	}
	r1.wait(t, downMon)
	r2.wait(t, active)
	netlab.WaitFor(t, patience, onlyHolder(r2, r1, r2))
	lab.Node("client").WaitPing(t, clusterIP, patience)
	// Both nodes agree on the counts that decided: R2 2 of 2, R1 1 of 2.
	netlab.WaitFor(t, patience, all(r1.monitorCounts(t.Context(), 1, 2, 2), r2.monitorCounts(t.Context(), 2, 1, 2)))
	// Examples 3-8 and 3-9, with the guide's two wordings (CL-Q07).
	r1.waitReport(t, statusReport("R1", "Down (at least 1 monitor not reachable)", "Active", "Reachable", "Unreachable",
		"Active on secondary R2"))
	r2.waitReport(t, statusReport("R2", "Down (at least 1 monitor node not reachable)", "Active", "Reachable", "Reachable",
		"Active on secondary R2 (this node)"))
	// R1 stopped its services in reverse (CL-B15), before R2 started
	// them (CL-B16).
	r1.waitCalls(t, "a start ip=1", "b start ip=1", "b stop ip=1", "a stop ip=1")
	r2.waitCalls(t, "a start ip=1", "b start ip=1")
	handedOver(t, r1, r2)
	// Non-revertive: R1 reaching the monitor again changes nothing.
	if err := r1.node.RestorePort("eth2"); err != nil {
		t.Fatal(err)
	}
	r1.wait(t, standby)
	holdsFor(t, 2*time.Second, all(r2.is(t.Context(), active), onlyHolder(r2, r1, r2)))
}

// TestCL_B11_Q04_BothLoseMonitor: the upstream monitor host goes away, so
// both nodes reach one of their two monitors: neither is better, and the
// current owner keeps the resources (CL-B11, CL-Q04). Both show themselves
// Down (CL-B12), R1 still ACTIVE on the bus; nothing restarts. When the
// monitor returns, both are healthy again and still nothing moves.
func TestCL_B11_Q04_BothLoseMonitor(t *testing.T) {
	lab, r1, r2 := pair(t, spec{})
	upstream := lab.Node("upstream")
	if err := upstream.CutPort("eth0"); err != nil {
		t.Fatal(err)
	}
	keeps := all(r1.is(t.Context(), activeDownMon), r2.is(t.Context(), downMon), onlyHolder(r1, r1, r2))
	netlab.WaitFor(t, patience, keeps)
	netlab.WaitFor(t, patience, all(r1.monitorCounts(t.Context(), 1, 1, 2), r2.monitorCounts(t.Context(), 1, 1, 2)))
	// Several monitor-dead-intervals (1 s): long enough for a handover
	// either way to show.
	holdsFor(t, 3*time.Second, keeps)
	lab.Node("client").WaitPing(t, clusterIP, patience)
	r1.waitReport(t, statusReport("R1", "Down (at least 1 monitor not reachable)", "Down (at least 1 monitor node not reachable)",
		"Reachable", "Unreachable", "Active on primary R1 (this node)"))
	r2.waitReport(t, statusReport("R2", "Down (at least 1 monitor node not reachable)", "Down (at least 1 monitor not reachable)",
		"Reachable", "Unreachable", "Active on primary R1"))

	if err := upstream.RestorePort("eth0"); err != nil {
		t.Fatal(err)
	}
	r1.wait(t, active)
	r2.wait(t, standby)
	holdsFor(t, time.Second, all(r1.is(t.Context(), active), r2.is(t.Context(), standby), onlyHolder(r1, r1, r2)))
	// Nothing moved at any point: the scripts ran once, at the start.
	if got := r1.calls(t); !slices.Equal(got, []string{"a start ip=1", "b start ip=1"}) {
		t.Errorf("R1's resource script calls %q, want only the two starts", got)
	}
	if got := r2.calls(t); len(got) != 0 {
		t.Errorf("the standby R2 ran its resource script: %q", got)
	}
	for _, r := range []*router{r1, r2} {
		if got := r.statistics(t); got.GetReleases() != 0 || (r == r2 && got.GetTakeovers() != 0) {
			t.Errorf("%s counts %d takeovers and %d releases: the resources moved", r.name, got.GetTakeovers(), got.GetReleases())
		}
	}
}

// TestCL_B04_OneHeartbeatLinkCut: with two cluster interfaces, losing one
// changes nothing: R1 keeps the resources, R2 stands by and sees R1 alive
// (CL-B04: one link alive = peer alive); the cut link shows down.
func TestCL_B04_OneHeartbeatLinkCut(t *testing.T) {
	lab, r1, r2 := pair(t, spec{})
	if err := r1.node.CutPort("eth1"); err != nil {
		t.Fatal(err)
	}
	linkDown := func() (bool, string) {
		st, err := r2.status(t.Context())
		if err != nil {
			return false, err.Error()
		}
		links := peer(st).GetLinks()
		i := slices.IndexFunc(links, func(l *clusterv1.Link) bool { return l.GetInterface() == "eth1" })
		if i < 0 {
			return false, fmt.Sprintf("R2's view of R1 has no eth1 link: %v", links)
		}
		return links[i].GetState() != clusterv1.LinkState_LINK_STATE_UP, fmt.Sprintf("R1's eth1 link is %s as R2 sees it", links[i].GetState())
	}
	netlab.WaitFor(t, patience, linkDown)
	// Several dead-intervals: long enough for a wrong takeover to show.
	holdsFor(t, 4*time.Second, all(r1.is(t.Context(), active), r2.is(t.Context(), standby), onlyHolder(r1, r1, r2)))
	lab.Node("client").WaitPing(t, clusterIP, patience)
	if got := r2.statistics(t).GetPeerDeclaredDead(); got != 0 {
		t.Errorf("R2 declared R1 dead %d times", got)
	}
}
