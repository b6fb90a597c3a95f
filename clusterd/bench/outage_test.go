//go:build e2e

package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// failure is how the primary goes away in an outage trial.
type failure struct {
	Name string
	// Leaving: the primary says goodbye (CL-B24), and the figures count
	// from its leaving message instead of its last heartbeat.
	Leaving bool
	// inflict makes r1 (the primary, daemon p) fail.
	inflict func(r1 *netlab.Node, p *netlab.Process) error
}

var failures = []failure{
	{
		// A killed daemon leaves its cluster IP in the kernel (FIELD-NOTES),
		// which would go on answering: cutting the ports right after is
		// the node dying with its daemon (CL-B08).
		Name: "SIGKILL, then cut",
		inflict: func(r1 *netlab.Node, p *netlab.Process) error {
			if err := p.Kill(); err != nil {
				return err
			}
			for _, port := range []string{"eth0", "eth1", "eth2"} {
				if err := r1.CutPort(port); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		// SIGTERM: the primary stops its services and sends a leaving
		// heartbeat, R2 takes over without waiting dead-interval (CL-B24).
		Name: "clean stop (SIGTERM)", Leaving: true,
		inflict: func(_ *netlab.Node, p *netlab.Process) error { return p.Signal(syscall.SIGTERM) },
	},
}

// BenchmarkOutage measures, for each failure of the primary, the longest
// gap in the client's replies from the cluster IP, and from R2's capture
// where the time goes (issue 4, Benchmarks).
func BenchmarkOutage(b *testing.B) {
	netlab.RequirePrivileged(b)
	bin := clusterdBinary(b)
	trials := benchdoc.EnvInt(b, "HASUITE_BENCH_TRIALS", 5)
	for _, f := range failures {
		r := outageResult{Failure: f.Name, Leaving: f.Leaving}
		for i := range trials {
			m, err := outageTrial(b.Context(), b, bin, f)
			if err != nil {
				b.Logf("%s trial %d: %v", f.Name, i+1, err)
				r.Errors = append(r.Errors, err.Error())
				continue
			}
			r.Samples = append(r.Samples, m)
		}
		b.Logf("%-22s %s", f.Name, r.summary())
		report.addOutage(r)
	}
}

// measured is one outage trial's figures.
type measured struct {
	// Outage is the pinger's longest gap between replies: what users see.
	Outage time.Duration
	// Announced is from R1's last heartbeat R2 received (its leaving
	// message on a clean stop) to R2's first gratuitous ARP for the
	// cluster IP, both in R2's capture: detection and the address coming
	// up, free of the failure's phase in the keepalive.
	Announced time.Duration
	// Replied is from the same message to R2's first echo reply to the
	// client: Announced plus the client's next ping.
	Replied time.Duration
	// FromFailure is from the kill (or SIGTERM) to the same gratuitous
	// ARP: what an operator would time, with the phase in it.
	FromFailure time.Duration
}

// outageTrial builds a fresh lab (a killed daemon leaves its address
// behind, so nothing carries over), starts the pair, and measures what the
// client and R2 see when R1 fails at a random phase of the keepalive.
func outageTrial(ctx context.Context, b *testing.B, bin string, f failure) (measured, error) {
	log := &trialLog{}
	lab, err := newLab(ctx, log)
	if err != nil {
		return measured{}, err
	}
	defer lab.Close()
	m, err := runOutage(ctx, b, lab, bin, f)
	if err != nil {
		return measured{}, fmt.Errorf("%w\nlast lab log lines:\n%s", err, log.tail(20))
	}
	return m, nil
}

func runOutage(ctx context.Context, b *testing.B, lab *netlab.Lab, bin string, f failure) (measured, error) {
	r1p, _, err := pair(ctx, lab, bin, b.TempDir())
	if err != nil {
		return measured{}, err
	}
	r1, r2, client := lab.Node("r1"), lab.Node("r2"), lab.Node("client")
	var capts []*netlab.Capture
	for _, ifname := range []string{"eth0", "eth1"} {
		c, err := r2.Capture(ifname, func(frame []byte) bool {
			_, hb := parseHeartbeat(frame)
			return hb || isEchoReplyFrom(frame, clusterAddr) || isGratuitousARP(frame, clusterAddr)
		})
		if err != nil {
			return measured{}, err
		}
		defer c.Stop()
		capts = append(capts, c)
	}
	// A few heartbeats in the capture before anything happens.
	time.Sleep(2*keepalive + 50*time.Millisecond)

	pinger, err := client.StartPinger(clusterIP, pingInterval)
	if err != nil {
		return measured{}, err
	}
	defer pinger.Stop()
	if err := netlab.Poll(ctx, patience, func() (bool, string) {
		s := pinger.Stats()
		return s.Received >= 20, s.String()
	}); err != nil {
		return measured{}, fmt.Errorf("the cluster IP does not answer a steady ping: %w", err)
	}

	// A random phase of the keepalive, or every trial would measure the
	// same point of R2's dead timer.
	time.Sleep(rand.N(keepalive))
	failed := time.Now()
	if err := f.inflict(r1, r1p); err != nil {
		return measured{}, err
	}
	if err := netlab.Poll(ctx, dead+10*time.Second, func() (bool, string) {
		on2, err := hasAddress(r2, clusterIP)
		return on2 && err == nil, fmt.Sprintf("r2 holds the cluster IP: %v (%v)", on2, err)
	}); err != nil {
		return measured{}, fmt.Errorf("R2 never took over after %s: %w", f.Name, err)
	}
	before := pinger.Stats().Received
	if err := netlab.Poll(ctx, 10*time.Second, func() (bool, string) {
		s := pinger.Stats()
		return s.Received >= before+10, s.String()
	}); err != nil {
		return measured{}, fmt.Errorf("the cluster IP never answered again after %s: %w", f.Name, err)
	}
	stats := pinger.Stop()
	var frames []netlab.Frame
	for _, c := range capts {
		if err := c.Stop(); err != nil {
			return measured{}, err
		}
		frames = append(frames, c.Frames()...)
	}
	slices.SortStableFunc(frames, func(a, b netlab.Frame) int { return a.Time.Compare(b.Time) })
	tl, err := takeover(frames, f.Leaving)
	if err != nil {
		return measured{}, err
	}
	if stats.Duplicates > 0 {
		return measured{}, fmt.Errorf("%d duplicate replies: both routers answered for %s", stats.Duplicates, clusterIP)
	}
	return measured{Outage: stats.LongestGap, Announced: tl.announced.Sub(tl.from), Replied: tl.replied.Sub(tl.from),
		FromFailure: tl.announced.Sub(failed)}, nil
}

// timeline is what R2's capture says of a takeover.
type timeline struct {
	from      time.Time // R1's last heartbeat, or its first leaving message
	announced time.Time // R2's first gratuitous ARP for the cluster IP after it
	replied   time.Time // R2's first echo reply from the cluster IP after it
}

// takeover reads the timeline from R2's capture (both links, in time
// order): the reference is R1's first leaving message if leaving, else the
// last heartbeat R2 received from R1 before its own first announcement.
func takeover(frames []netlab.Frame, leaving bool) (timeline, error) {
	var tl timeline
	for _, f := range frames {
		if t, ok := parseHeartbeat(f.Data); ok {
			if f.Outgoing || !fromR1(f.Data) || !tl.announced.IsZero() {
				continue
			}
			switch {
			case leaving && t == wire.TypeLeaving && tl.from.IsZero():
				tl.from = f.Time
			case !leaving && t == wire.TypeHeartbeat:
				tl.from = f.Time
			}
			continue
		}
		if !f.Outgoing || tl.from.IsZero() {
			continue
		}
		if isGratuitousARP(f.Data, clusterAddr) && tl.announced.IsZero() {
			tl.announced = f.Time
		}
		if isEchoReplyFrom(f.Data, clusterAddr) && tl.replied.IsZero() && !tl.announced.IsZero() {
			tl.replied = f.Time
		}
	}
	what := "last heartbeat"
	if leaving {
		what = "leaving message"
	}
	if tl.from.IsZero() || tl.announced.IsZero() || tl.replied.IsZero() {
		return tl, fmt.Errorf("R2's capture holds no %s from R1 (%v), no gratuitous ARP from R2 after it (%v) or no echo reply (%v)",
			what, tl.from, tl.announced, tl.replied)
	}
	return tl, nil
}

var clusterAddr = netip.MustParseAddr(clusterIP)

const ethLen = 14

// ipv4 is the IPv4 packet in an Ethernet frame and its header length, or
// false.
func ipv4(frame []byte) (pkt []byte, ihl int, ok bool) {
	if len(frame) < ethLen+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return nil, 0, false
	}
	pkt = frame[ethLen:]
	ihl = int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl {
		return nil, 0, false
	}
	return pkt, ihl, true
}

// parseHeartbeat is the message type of a clusterd heartbeat (UDP with the
// wire magic and version) in an Ethernet frame; the MAC is not checked,
// the bench only reads times.
func parseHeartbeat(frame []byte) (wire.Type, bool) {
	pkt, ihl, ok := ipv4(frame)
	if !ok || pkt[9] != syscall.IPPROTO_UDP || len(pkt) < ihl+8+6 {
		return 0, false
	}
	payload := pkt[ihl+8:]
	if !bytes.Equal(payload[:4], wire.Magic[:]) || payload[4] != wire.Version {
		return 0, false
	}
	return wire.Type(payload[5]), true
}

// fromR1 reports whether an IPv4 frame's source is one of R1's addresses.
func fromR1(frame []byte) bool {
	pkt, _, ok := ipv4(frame)
	if !ok {
		return false
	}
	src, _ := netip.AddrFromSlice(pkt[12:16])
	return slices.Contains(r1Addrs, src.String())
}

// isEchoReplyFrom matches an ICMP echo reply from addr.
func isEchoReplyFrom(frame []byte, addr netip.Addr) bool {
	pkt, ihl, ok := ipv4(frame)
	if !ok || pkt[9] != syscall.IPPROTO_ICMP || len(pkt) <= ihl {
		return false
	}
	src, _ := netip.AddrFromSlice(pkt[12:16])
	return pkt[ihl] == 0 && src == addr
}

// isGratuitousARP matches an ARP request or reply announcing addr (sender
// and target both addr).
func isGratuitousARP(frame []byte, addr netip.Addr) bool {
	if len(frame) < ethLen+28 || binary.BigEndian.Uint16(frame[12:14]) != 0x0806 {
		return false
	}
	arp := frame[ethLen:]
	spa, _ := netip.AddrFromSlice(arp[14:18])
	tpa, _ := netip.AddrFromSlice(arp[24:28])
	return spa == addr && tpa == addr
}

// clusterdBinary is $HASUITE_BIN/clusterd.
func clusterdBinary(b *testing.B) string {
	b.Helper()
	dir := envBin(b)
	return filepath.Join(dir, "clusterd")
}
