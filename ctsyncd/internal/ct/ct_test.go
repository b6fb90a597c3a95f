package ct

import (
	"net/netip"
	"testing"
)

func tcpEntry() Entry {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.7")
	return Entry{
		Orig:    Tuple{Src: a, Dst: b, Proto: ProtoTCP, SrcPort: 40000, DstPort: 80},
		Reply:   Tuple{Src: b, Dst: a, Proto: ProtoTCP, SrcPort: 80, DstPort: 40000},
		Status:  StatusSeenReply | StatusAssured | StatusConfirmed,
		Timeout: 432000,
		TCP:     TCPInfo{State: TCPEstablished},
	}
}

// The digest must ignore what changes silently (the timeout) and see
// everything else the peers must agree on.
func TestDigest(t *testing.T) {
	base := tcpEntry()
	same := base
	same.Timeout = 17
	if base.Digest() != same.Digest() {
		t.Errorf("digest changed with the timeout alone")
	}
	edits := map[string]func(*Entry){
		"status":     func(e *Entry) { e.Status |= StatusSrcNAT },
		"mark":       func(e *Entry) { e.Mark = 1 },
		"zone":       func(e *Entry) { e.Zone = 1 },
		"tcp state":  func(e *Entry) { e.TCP.State = TCPTimeWait },
		"reply port": func(e *Entry) { e.Reply.DstPort = 1024 },
		"helper":     func(e *Entry) { e.Helper = "ftp" },
		"tcp wscale": func(e *Entry) { e.TCP.WScaleReply = 7 },
		"tcp flags":  func(e *Entry) { e.TCP.FlagsOrig = 0x20 },
		"sctp vtag":  func(e *Entry) { e.SCTP.VTagReply = 1 },
		"v6 mapped":  func(e *Entry) { e.Orig.Src = netip.AddrFrom16(e.Orig.Src.As16()) },
		"seqadj":     func(e *Entry) { e.SeqAdjReply = SeqAdj{CorrectionPos: 1000, OffsetAfter: 1} },
		"seqadj pos": func(e *Entry) { e.SeqAdjOrig = SeqAdj{CorrectionPos: 1} },
	}
	for name, edit := range edits {
		e := base
		edit(&e)
		if e.Digest() == base.Digest() {
			t.Errorf("%s: digest did not change", name)
		}
	}
}

// Digest and Bucket are compared between nodes: pin their values so a
// change of the encoding cannot slip through.
func TestDigestStable(t *testing.T) {
	e := tcpEntry()
	if got, want := e.Digest(), uint64(0x3aee9929b158a5ee); got != want {
		t.Errorf("Digest() = %#x, want %#x: the encoding changed, and nodes of two versions would never agree", got, want)
	}
	if got, want := e.Key().Bucket(256), 253; got != want {
		t.Errorf("Bucket(256) = %d, want %d", got, want)
	}
	for _, n := range []int{1, 7, 256} {
		if b := e.Key().Bucket(n); b < 0 || b >= n {
			t.Errorf("bucket %d of %d out of range", b, n)
		}
	}
}

func TestProtoName(t *testing.T) {
	for _, tt := range []struct {
		p    uint8
		want string
	}{{1, "icmp"}, {6, "tcp"}, {17, "udp"}, {132, "sctp"}, {2, "unknown"}} {
		if got := ProtoName(tt.p); got != tt.want {
			t.Errorf("ProtoName(%d) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestSums(t *testing.T) {
	var a, b Sums
	e := tcpEntry()
	k := e.Key().Bucket(Buckets)
	a.Add(k, e.Digest())
	if d := a.Diff(&b); d != 1<<k {
		t.Errorf("Diff = %#x, want bucket %d", d, k)
	}
	a.Remove(k, e.Digest())
	if d := a.Diff(&b); d != 0 {
		t.Errorf("Diff after Remove = %#x, want 0", d)
	}
}

// An expectation's function is part of what the peers must agree on; an
// expectation without one keeps the digest it had before Fn existed.
func TestExpectDigestFn(t *testing.T) {
	x := Expect{Master: tcpEntry().Orig, Tuple: Tuple{Proto: ProtoTCP, DstPort: 41089}, Helper: "ftp"}
	withFn := x
	withFn.Fn = "nat-follow-master"
	if x.Digest() == withFn.Digest() {
		t.Error("the digest did not change with the expectation's function")
	}
}
