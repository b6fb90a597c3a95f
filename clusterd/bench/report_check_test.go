//go:build e2e

package bench

import (
	"encoding/binary"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestRender pins the generated section's layout with made-up figures.
func TestRender(t *testing.T) {
	ms := time.Millisecond
	r := &results{version: "clusterd version test"}
	r.addOutage(outageResult{Failure: failures[0].Name, Samples: []measured{
		{Outage: 1700 * ms, Announced: 2003 * ms, Replied: 2006 * ms, FromFailure: 1720 * ms},
		{Outage: 1900 * ms, Announced: 2004 * ms, Replied: 2009 * ms, FromFailure: 1910 * ms},
		{Outage: 2600 * ms, Announced: 2500 * ms, Replied: 2600 * ms, FromFailure: 2580 * ms},
	}})
	r.addOutage(outageResult{Failure: failures[1].Name, Leaving: true,
		Samples: []measured{{Outage: 10 * ms, Announced: 3 * ms, Replied: 7 * ms, FromFailure: 5 * ms}},
		Errors:  []string{"R2 never took over\nlog lines"}})
	r.addIdle(idleResult{Node: "R1", Role: "ACTIVE", Window: 30 * time.Second, Processes: 1, RSS: 18 << 20, RSSEnd: 19 << 20,
		Anon: 10 << 20, File: 8 << 20, AnonEnd: 10 << 20, FileEnd: 9 << 20, CPUPercent: 0.2})
	r.addIdle(idleResult{Node: "R2", Role: "STANDBY", Window: 30 * time.Second, Error: "R1 never became the only holder"})
	got := r.render(benchdoc.Machine{Date: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), CPUs: 2, CPUModel: "Test CPU", Kernel: "6.18", LoadBefore: "0.10", LoadAfter: "1.90"})

	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("render differs from %s (run with -update if intended):\n%s", golden, got)
	}
	if !strings.HasPrefix(got, beginMarker) || !strings.HasSuffix(got, endMarker+"\n") {
		t.Errorf("render does not sit between the markers")
	}
}

// TestRepeatedRuns: under -count the outage trials add up, the idle
// figures keep the latest run, so the tables hold each case once.
func TestRepeatedRuns(t *testing.T) {
	r := &results{}
	for run := range 3 {
		r.addOutage(outageResult{Failure: failures[0].Name, Samples: []measured{{Outage: time.Duration(run)}}})
		r.addIdle(idleResult{Node: "R1", RSS: int64(run)})
	}
	if len(r.outages) != 1 || len(r.outages[0].Samples) != 3 {
		t.Errorf("outages = %+v, want one case with 3 samples", r.outages)
	}
	if len(r.idle) != 1 || r.idle[0].RSS != 2 {
		t.Errorf("idle = %+v, want the last run only", r.idle)
	}
}

// heartbeatFrame is a real heartbeat of type typ from src, as R2 receives
// it.
func heartbeatFrame(t *testing.T, typ wire.Type, src string) []byte {
	t.Helper()
	key, err := wire.DeriveKey(secret, "cluster1")
	if err != nil {
		t.Fatal(err)
	}
	payload, err := wire.Marshal(wire.Message{Type: typ, Role: wire.RolePrimary, Group: "cluster1", Node: "R1",
		Seq: 1, Interface: "eth0", MonitorsTotal: 1, MonitorsReachable: 1}, key)
	if err != nil {
		t.Fatal(err)
	}
	return ipFrame(17, src, append(make([]byte, 8), payload...))
}

// ipFrame is an Ethernet frame holding an IPv4 packet of protocol proto
// from src.
func ipFrame(proto byte, src string, body []byte) []byte {
	f := make([]byte, ethLen+20, ethLen+20+len(body))
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	f[ethLen] = 0x45
	f[ethLen+9] = proto
	a := netip.MustParseAddr(src).As4()
	copy(f[ethLen+12:ethLen+16], a[:])
	return append(f, body...)
}

func echoReply(src string) []byte { return ipFrame(1, src, make([]byte, 8)) }

func garp(addr string) []byte {
	f := make([]byte, ethLen+28)
	binary.BigEndian.PutUint16(f[12:14], 0x0806)
	a := netip.MustParseAddr(addr).As4()
	copy(f[ethLen+14:ethLen+18], a[:])
	copy(f[ethLen+24:ethLen+28], a[:])
	return f
}

func TestFrameParsers(t *testing.T) {
	hb := heartbeatFrame(t, wire.TypeLeaving, "10.7.0.1")
	if typ, ok := parseHeartbeat(hb); !ok || typ != wire.TypeLeaving {
		t.Errorf("parseHeartbeat(leaving) = %v, %v", typ, ok)
	}
	if !fromR1(hb) || fromR1(heartbeatFrame(t, wire.TypeHeartbeat, "10.6.0.2")) {
		t.Error("fromR1 does not tell R1's addresses from R2's")
	}
	if _, ok := parseHeartbeat(ipFrame(17, "10.6.0.1", make([]byte, 40))); ok {
		t.Error("a UDP datagram without the magic parsed as a heartbeat")
	}
	if !isEchoReplyFrom(echoReply(clusterIP), clusterAddr) || isEchoReplyFrom(echoReply("10.6.0.2"), clusterAddr) {
		t.Error("isEchoReplyFrom does not match on the source")
	}
	if !isGratuitousARP(garp(clusterIP), clusterAddr) || isGratuitousARP(garp("10.6.0.2"), clusterAddr) {
		t.Error("isGratuitousARP does not match on the address")
	}
}

// TestTakeover reads the timeline out of a made-up capture of R2: a crash
// counts from R1's last heartbeat before R2's announcement, a clean stop
// from R1's first leaving message; R2's own heartbeats and replies before
// the reference are ignored.
func TestTakeover(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	in := func(ms int, data []byte) netlab.Frame { return netlab.Frame{Time: at(ms), Data: data} }
	out := func(ms int, data []byte) netlab.Frame { return netlab.Frame{Time: at(ms), Outgoing: true, Data: data} }
	hb1 := func(typ wire.Type, src string) []byte { return heartbeatFrame(t, typ, src) }

	crash := []netlab.Frame{
		in(0, hb1(wire.TypeHeartbeat, "10.6.0.1")),
		in(1, hb1(wire.TypeHeartbeat, "10.7.0.1")),
		out(250, hb1(wire.TypeHeartbeat, "10.6.0.2")), // R2's own
		in(500, hb1(wire.TypeHeartbeat, "10.6.0.1")),
		in(501, hb1(wire.TypeHeartbeat, "10.7.0.1")),
		out(2504, garp(clusterIP)),
		out(2510, echoReply(clusterIP)),
		in(2600, hb1(wire.TypeHeartbeat, "10.6.0.1")), // after the takeover: not the reference
	}
	stop := []netlab.Frame{
		in(0, hb1(wire.TypeHeartbeat, "10.6.0.1")),
		in(300, hb1(wire.TypeLeaving, "10.6.0.1")),
		in(301, hb1(wire.TypeLeaving, "10.7.0.1")),
		out(303, garp(clusterIP)),
		out(309, echoReply(clusterIP)),
	}
	tests := []struct {
		name               string
		frames             []netlab.Frame
		leaving            bool
		from, ann, replied int
		wantErr            bool
	}{
		{name: "crash", frames: crash, from: 501, ann: 2504, replied: 2510},
		{name: "clean stop", frames: stop, leaving: true, from: 300, ann: 303, replied: 309},
		{name: "clean stop without a leaving message", frames: crash, leaving: true, wantErr: true},
		{name: "no reply", frames: crash[:6], wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, err := takeover(tt.frames, tt.leaving)
			if tt.wantErr {
				if err == nil {
					t.Errorf("takeover = %+v, want an error", tl)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tl.from.Equal(at(tt.from)) || !tl.announced.Equal(at(tt.ann)) || !tl.replied.Equal(at(tt.replied)) {
				t.Errorf("takeover = %v %v %v, want at %d %d %d ms", tl.from.Sub(t0), tl.announced.Sub(t0), tl.replied.Sub(t0),
					tt.from, tt.ann, tt.replied)
			}
		})
	}
}
