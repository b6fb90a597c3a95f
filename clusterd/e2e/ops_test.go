//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/pkg/netlab"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// TestCL_B05_WrongSecret: R2's secret differs from R1's, so neither node
// accepts the other's heartbeats: no cluster forms (each sees the peer
// Unknown, never heard) and the drops are counted as authentication
// failures (CL-B05); neither reveals the secret in its status.
func TestCL_B05_WrongSecret(t *testing.T) {
	bin := clusterdBinary(t)
	lab := newLab(t)
	r1 := startRouter(t, bin, lab, "r1", spec{})
	r2 := startRouter(t, bin, lab, "r2", spec{secret: "another-secret-0123456789"})
	for _, r := range []*router{r1, r2} {
		netlab.WaitFor(t, patience, func() (bool, string) {
			if r.proc.Exited() {
				return false, "clusterd exited:\n" + r.proc.Output()
			}
			st, err := r.status(t.Context())
			if err != nil {
				return false, err.Error()
			}
			stats := r.statistics(t).GetHeartbeats()
			return peer(st).GetState() == clusterv1.NodeState_NODE_STATE_UNKNOWN && peer(st).GetUid() == "" &&
					stats.GetAuthFailures() >= 5 && stats.GetReceived() == 0,
				r.name + " sees its peer " + peer(st).GetState().String() + ", heartbeats " + stats.String()
		})
		out, err := r.cli(t.Context(), "show", "cluster", "status", "--json")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{secret, "another-secret"} {
			if strings.Contains(out, s) {
				t.Errorf("%s's status shows a secret: %s", r.name, out)
			}
		}
	}
}

// TestCL_B14_B15_B24_CleanStop: the services start in configuration order
// (the address, then a, then b) and stop in reverse (b and a still see the
// address); SIGTERM releases everything, leaves R1's kernel clean, and the
// leaving heartbeat makes R2 take over at once, not after dead-interval
// (CL-B24).
func TestCL_B14_B15_B24_CleanStop(t *testing.T) {
	lab, r1, r2 := pair(t, spec{})
	r1.waitCalls(t, "a start ip=1", "b start ip=1")

	stopped := time.Now()
	if err := r1.proc.Stop(patience); err != nil {
		t.Fatalf("clusterd did not exit cleanly on SIGTERM: %v\n%s", err, r1.proc.Output())
	}
	t.Logf("R2 held the cluster IP %v after the SIGTERM", takeoverTime(t, r2, stopped).Round(time.Millisecond))
	r1.waitCalls(t, "a start ip=1", "b start ip=1", "b stop ip=1", "a stop ip=1")
	if held, err := holders(clusterIP, r1.node); err != nil || len(held) > 0 {
		t.Errorf("after SIGTERM R1's kernel still has %v (%v)", held, err)
	}
	r2.wait(t, active)
	netlab.WaitFor(t, patience, onlyHolder(r2, r1, r2))
	lab.Node("client").WaitPing(t, clusterIP, patience)
	r2.waitCalls(t, "a start ip=1", "b start ip=1")
	handedOver(t, r1, r2)

	st, err := r2.status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A leaving peer is not a dead one: R2 did not wait for dead-interval.
	if got := r2.statistics(t).GetPeerDeclaredDead(); got != 0 {
		t.Errorf("R2 declared R1 dead %d times, want 0: the leaving heartbeat should have told it (last failover: %v)",
			got, st.GetLastFailover())
	}
	if got := peer(st).GetState(); got != clusterv1.NodeState_NODE_STATE_DOWN {
		t.Errorf("R2 sees the stopped R1 %s, want DOWN", got)
	}
}

// TestCL_B23_ReloadNewMonitor: a rolling reload adds the upstream monitor
// to a cluster that watches the LAN one only, one node at a time, in
// either order: the holder first, then the standby, or the standby first.
// Between the two reloads one node reaches 2 of 2 monitors and the other
// 1 of 1; the counts are not compared until both run the same list
// (clusterd/README.md, "Monitors decide a handover only when ..."), so the
// resources stay on R1 throughout, watched every 100 ms during the reloads
// and for ten keepalives after both nodes verified the new monitor
// (CL-B23, CL-B11). Before fsm compared counts only between equal lists
// (69a0a1e) the standby-first order handed them to R2.
func TestCL_B23_ReloadNewMonitor(t *testing.T) {
	for _, tt := range []struct {
		name         string
		standbyFirst bool // R2 reloads first, else R1 (the holder)
	}{
		{name: "holder first"},
		{name: "standby first", standbyFirst: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lab, r1, r2 := pair(t, spec{monitors: []string{monitorIP}})
			order := []*router{r1, r2}
			if tt.standbyFirst {
				order = []*router{r2, r1}
			}
			stays := all(r1.holds(t.Context(), true), r2.holds(t.Context(), false), onlyHolder(r1, r1, r2))
			w := watch(t, stays)
			s := spec{monitors: []string{monitorIP, upstreamIP}}
			for i, r := range order {
				r.writeConfig(t, s)
				if out, err := r.cli(t.Context(), "reload"); err != nil {
					t.Fatalf("reload: %v\n%s", err, out)
				}
				netlab.WaitFor(t, patience, r.verified(t.Context(), i == 1))
				if i == 0 {
					// The lists differ now: give a wrong handover time to
					// show (five keepalives, a monitor-dead-interval).
					holdsFor(t, time.Second, stays)
				}
			}
			netlab.WaitFor(t, patience, order[0].verified(t.Context(), true))
			// The bus follows the monitor's first answer a moment later.
			healthy := all(r1.is(t.Context(), active), r2.is(t.Context(), standby), onlyHolder(r1, r1, r2))
			netlab.WaitFor(t, patience, healthy)
			holdsFor(t, 2*time.Second, healthy)
			w.Stop(t)
			lab.Node("client").WaitPing(t, clusterIP, patience)
			// Nothing restarted: the scripts ran once, at the start.
			r1.waitCalls(t, "a start ip=1", "b start ip=1")
			if got := r2.calls(t); len(got) != 0 {
				t.Errorf("the standby R2 ran its resource script: %q", got)
			}
			for _, r := range []*router{r1, r2} {
				if got := r.statistics(t); got.GetReleases() != 0 || (r == r2 && got.GetTakeovers() != 0) {
					t.Errorf("%s counts %d takeovers and %d releases: the resources moved", r.name, got.GetTakeovers(), got.GetReleases())
				}
			}
		})
	}
}

// verified is a condition: r runs both monitors, the LAN's and the new
// upstream one, and both answered; same: the peer runs the same
// configuration too.
func (r *router) verified(ctx context.Context, same bool) netlab.Condition {
	return func() (bool, string) {
		st, err := r.status(ctx)
		if err != nil {
			return false, err.Error()
		}
		ms := st.GetMonitors()
		ok := len(ms) == 2 && ms[0].GetAddress() == monitorIP && ms[1].GetAddress() == upstreamIP &&
			ms[0].GetReachable() && ms[1].GetReachable() && (!same || !st.GetConfigMismatch())
		return ok, r.name + " monitors " + protoString(ms) + ", peer config mismatch " + boolString(st.GetConfigMismatch())
	}
}

func protoString(ms []*clusterv1.Monitor) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.GetAddress()+" reachable="+boolString(m.GetReachable()))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestCL_B05_ReplayRejected: a heartbeat of R1 captured on the LAN and
// sent again from the monitor host (its Ethernet source rewritten, so the
// switch does not move R1's MAC) is dropped by R2 as a replay and counted;
// the cluster does not notice (CL-B05, CL-Q11).
func TestCL_B05_ReplayRejected(t *testing.T) {
	lab, r1, r2 := pair(t, spec{})
	capture, err := r2.node.Capture("eth0", heartbeatFrom("10.6.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	frame := capture.WaitPacket(t, patience, func([]byte) bool { return true })
	if err := capture.Stop(); err != nil {
		t.Fatal(err)
	}
	before := r2.statistics(t).GetHeartbeats()
	const replays = 3
	if err := inject(lab.Node("monitor"), "eth0", frame.Data, replays); err != nil {
		t.Fatal(err)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		hb := r2.statistics(t).GetHeartbeats()
		return hb.GetReplays()-before.GetReplays() >= replays, "R2's heartbeats: " + hb.String()
	})
	if hb := r2.statistics(t).GetHeartbeats(); hb.GetAuthFailures() != before.GetAuthFailures() {
		t.Errorf("the replays counted as authentication failures: %v, before %v", hb, before)
	}
	holdsFor(t, time.Second, all(r1.is(t.Context(), active), r2.is(t.Context(), standby)))
}

// heartbeatFrom matches the IPv4 UDP frames to the heartbeat port (694)
// whose source is src.
func heartbeatFrom(src string) func(frame []byte) bool {
	want := net.ParseIP(src).To4()
	return func(f []byte) bool {
		if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_IP || f[14+9] != unix.IPPROTO_UDP {
			return false
		}
		ihl := int(f[14]&0x0f) * 4
		if len(f) < 14+ihl+8 || !bytes.Equal(f[14+12:14+16], want) {
			return false
		}
		return binary.BigEndian.Uint16(f[14+ihl+2:]) == 694
	}
}

// inject sends the IPv4 UDP frame count times out of the node's
// interface, as is but for the Ethernet source, which becomes the
// interface's own, and the UDP checksum, which becomes 0 (none): a frame
// captured off a veth carries only the partial sum its sender's offload
// left, which the receiving kernel would reject.
func inject(n *netlab.Node, ifname string, frame []byte, count int) error {
	link, err := n.Netlink().LinkByName(ifname)
	if err != nil {
		return err
	}
	out := bytes.Clone(frame)
	copy(out[6:12], link.Attrs().HardwareAddr)
	ihl := int(out[14]&0x0f) * 4
	binary.BigEndian.PutUint16(out[14+ihl+6:], 0)
	return n.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open a packet socket in %s: %w", n.Name(), err)
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: link.Attrs().Index, Halen: 6}
		copy(to.Addr[:], out[0:6])
		for range count {
			if err := unix.Sendto(fd, out, 0, to); err != nil {
				return fmt.Errorf("send a frame out of %s:%s: %w", n.Name(), ifname, err)
			}
		}
		return nil
	})
}
