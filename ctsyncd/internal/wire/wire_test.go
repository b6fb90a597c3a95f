package wire

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

func codecs() map[string]*Codec {
	return map[string]*Codec{"plain": NewCodec(nil), "secret": NewCodec(testSecret)}
}

// goldenMessages are the vectors of testdata/ and docs/ctsyncd-wire.md:
// one message of each type.
var goldenMessages = []struct {
	file string
	m    Message
}{
	{"update.golden", Message{Type: TypeUpdate, Boot: 0x0b007001, Counter: 7, Seq: 5, Records: []Record{upsert(tcp4()), deleteOf(udp6())}}},
	{"ack.golden", Message{Type: TypeAck, Boot: 0x0b007001, Counter: 8, Ack: 5}},
	{"nack.golden", Message{Type: TypeNack, Boot: 0x0b007001, Counter: 9, From: 3, To: 4}},
	{"alive.golden", Message{Type: TypeAlive, Boot: 0x0b007001, Counter: 10, Ack: 5, State: StatePrimary}},
	{"resync-request.golden", Message{Type: TypeResyncRequest, Boot: 0x0b007001, Counter: 11}},
	{"repair-request.golden", Message{Type: TypeRepairRequest, Boot: 0x0b007001, Counter: 12, Table: TableMain, Buckets: 1<<0 | 1<<63}},
}

// TestCS_B07Golden pins the encoding of one message of each type, octet by
// octet; the update is also pinned authenticated (so the key derivation and
// MAC are pinned too). docs/ctsyncd-wire.md walks through them.
func TestCS_B07Golden(t *testing.T) {
	for _, c := range []struct {
		prefix string
		codec  *Codec
	}{{"", NewCodec(nil)}, {"auth-", NewCodec(testSecret)}} {
		for _, g := range goldenMessages {
			if c.prefix != "" && g.m.Type != TypeUpdate {
				continue
			}
			t.Run(c.prefix+g.file, func(t *testing.T) {
				b, err := c.codec.Marshal(&g.m)
				if err != nil {
					t.Fatal(err)
				}
				want := unDump(t, golden(t, c.prefix+g.file, hexDump(b)))
				got, err := c.codec.Unmarshal(want)
				if err != nil {
					t.Fatalf("golden datagram: %v", err)
				}
				if !reflect.DeepEqual(*got, g.m) {
					t.Errorf("golden datagram decodes to\n%+v\nwant\n%+v", *got, g.m)
				}
			})
		}
	}
}

// TestCS_B06RoundTrip: every type and record kind comes back as sent, with
// and without a secret.
func TestCS_B06RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"update ipv4 tcp", Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(tcp4())}}},
		{"update ipv6 udp mark zone", Message{Type: TypeUpdate, Seq: 2, Records: []Record{upsert(udp6())}}},
		{"update icmp", Message{Type: TypeUpdate, Seq: 3, Records: []Record{upsert(icmp4()), upsert(icmp6())}}},
		{"update sctp", Message{Type: TypeUpdate, Seq: 4, Records: []Record{upsert(sctp4())}}},
		{"update gre (no ports)", Message{Type: TypeUpdate, Seq: 5, Records: []Record{upsert(gre4()), deleteOf(gre4())}}},
		{"update helper mark zone", Message{Type: TypeUpdate, Seq: 6, Records: []Record{upsert(ftpControl())}}},
		{"update sequence adjustment", Message{Type: TypeUpdate, Seq: 6, Records: []Record{upsert(ftpPASV())}}},
		{"update deletes", Message{Type: TypeUpdate, Seq: 7, Records: []Record{deleteOf(tcp4()), deleteOf(udp6()), deleteOf(icmp6())}}},
		{"update ipv4-mapped ipv6", Message{Type: TypeUpdate, Seq: 8, Records: func() []Record {
			e := tcp4()
			for _, a := range []*ct.Tuple{&e.Orig, &e.Reply} {
				a.Src, a.Dst = netipMapped(a.Src), netipMapped(a.Dst)
			}
			return []Record{upsert(e)}
		}()}},
		{"update expectations", Message{Type: TypeUpdate, Seq: 9, Records: []Record{
			expectUpsert(ftpData()), expectUpsert(natExpect()), expectDeleteOf(ftpData()), expectDeleteOf(natExpect())}}},
		{"update expectation function", Message{Type: TypeUpdate, Seq: 9, Records: []Record{expectUpsert(natFollowMaster())}}},
		{"update sweep and digest", Message{Type: TypeUpdate, Seq: 10, Records: []Record{
			{Kind: RecordSweepBegin, Sweep: Sweep{ID: 1, Table: TableMain, Buckets: ^uint64(0)}},
			upsert(tcp4()),
			{Kind: RecordSweepEnd, Sweep: Sweep{ID: 1, Table: TableMain, Buckets: ^uint64(0)}},
			{Kind: RecordDigest, Digest: digest(TableMain)},
		}}},
		{"update expect digest", Message{Type: TypeUpdate, Seq: 11, Records: []Record{{Kind: RecordDigest, Digest: digest(TableExpect)}}}},
		{"largest numbers", Message{Type: TypeUpdate, Boot: ^uint32(0), Counter: ^uint32(0), Seq: ^uint32(0), Records: []Record{upsert(tcp4())}}},
		{"ack", Message{Type: TypeAck, Boot: 1, Counter: 2, Ack: 3}},
		{"ack zero", Message{Type: TypeAck}},
		{"nack one", Message{Type: TypeNack, From: 4, To: 4}},
		{"nack range", Message{Type: TypeNack, From: 4, To: ^uint32(0)}},
		{"alive backup", Message{Type: TypeAlive, Ack: 9, State: StateBackup}},
		{"alive unknown", Message{Type: TypeAlive}},
		{"alive fault", Message{Type: TypeAlive, State: StateFault}},
		{"resync request", Message{Type: TypeResyncRequest, Boot: 5, Counter: 6}},
		{"repair expect", Message{Type: TypeRepairRequest, Table: TableExpect, Buckets: 1 << 17}},
	}
	for cname, c := range codecs() {
		for _, tc := range tests {
			t.Run(cname+"/"+tc.name, func(t *testing.T) {
				b, err := c.Marshal(&tc.m)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) != c.Size(&tc.m) {
					t.Errorf("len %d, Size says %d", len(b), c.Size(&tc.m))
				}
				got, err := c.Unmarshal(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(*got, tc.m) {
					t.Errorf("decoded\n%+v\nwant\n%+v", *got, tc.m)
				}
			})
		}
	}
}

// netipMapped is a as an IPv4-mapped IPv6 address.
func netipMapped(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

// Fields a type does not use are not sent, and do not come back.
func TestMarshalIgnoresUnusedFields(t *testing.T) {
	c := NewCodec(nil)
	m := Message{Type: TypeAck, Ack: 4, Seq: 9, From: 1, To: 2, State: StateFault, Table: TableExpect, Buckets: 3}
	b, err := c.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Message{Type: TypeAck, Ack: 4}); !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}
}

// TestCS_B06RecordSize: a sender filling datagrams by RecordSize and
// Overhead gets exactly the length Marshal produces, for any records.
func TestCS_B06RecordSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for cname, c := range codecs() {
		for i := range 2000 {
			m := Message{Type: TypeUpdate, Boot: rng.Uint32(), Counter: rng.Uint32(), Seq: rng.Uint32() | 1}
			size := c.Overhead()
			for {
				r := randRecord(rng)
				if size+RecordSize(&r) > MaxDatagram {
					break
				}
				size += RecordSize(&r)
				m.Records = append(m.Records, r)
			}
			if len(m.Records) == 0 {
				continue
			}
			b, err := c.Marshal(&m)
			if err != nil {
				t.Fatalf("%s %d: %v", cname, i, err)
			}
			if len(b) != size {
				t.Fatalf("%s %d: Overhead + sum(RecordSize) = %d, Marshal wrote %d", cname, i, size, len(b))
			}
			got, err := c.Unmarshal(b)
			if err != nil {
				t.Fatalf("%s %d: %v", cname, i, err)
			}
			if !reflect.DeepEqual(*got, m) {
				for j := range m.Records {
					if !reflect.DeepEqual(got.Records[j], m.Records[j]) {
						t.Fatalf("%s %d record %d: decoded\n%+v\nwant\n%+v", cname, i, j, got.Records[j], m.Records[j])
					}
				}
				t.Fatalf("%s %d: decoded\n%+v\nwant\n%+v", cname, i, *got, m)
			}
		}
	}
}

// A typical IPv4 TCP entry is compact enough for 25+ per datagram, even
// authenticated (the brief's budget: ~50 octets).
func TestCS_B06EntryDensity(t *testing.T) {
	r := upsert(tcp4())
	size := RecordSize(&r)
	if size > 50 {
		t.Errorf("IPv4 TCP upsert: %d octets, want <= 50", size)
	}
	if n := (MaxDatagram - NewCodec(testSecret).Overhead()) / size; n < 25 {
		t.Errorf("%d IPv4 TCP upserts per datagram, want >= 25", n)
	}
	d := Record{Kind: RecordDigest, Digest: digest(TableMain)}
	if got := RecordSize(&d); got != 2+768 {
		t.Errorf("digest record: %d octets, want 770", got)
	}
	t.Logf("IPv4 TCP upsert %d octets, %d per authenticated datagram; delete %d octets", size,
		(MaxDatagram-NewCodec(testSecret).Overhead())/size, RecordSize(&Record{Kind: RecordDelete, Entry: tcp4()}))
}

func TestMarshalRefuses(t *testing.T) {
	bad := func(edit func(*ct.Entry)) Message {
		e := tcp4()
		edit(&e)
		return Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(e)}}
	}
	badX := func(edit func(*ct.Expect)) Message {
		x := ftpData()
		edit(&x)
		return Message{Type: TypeUpdate, Seq: 1, Records: []Record{expectUpsert(x)}}
	}
	many := Message{Type: TypeUpdate, Seq: 1}
	for range 40 {
		many.Records = append(many.Records, upsert(tcp4()))
	}
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"unknown type", Message{Type: 9}, "type 9"},
		{"update seq 0", Message{Type: TypeUpdate, Records: []Record{upsert(tcp4())}}, "Seq 0"},
		{"empty update", Message{Type: TypeUpdate, Seq: 1}, "no records"},
		{"records on ack", Message{Type: TypeAck, Records: []Record{upsert(tcp4())}}, "only an Update"},
		{"nack upside down", Message{Type: TypeNack, From: 5, To: 4}, "From <= To"},
		{"nack from 0", Message{Type: TypeNack, To: 4}, "From <= To"},
		{"alive bad state", Message{Type: TypeAlive, State: 4}, "state 4"},
		{"repair bad table", Message{Type: TypeRepairRequest, Table: 2, Buckets: 1}, "table 2"},
		{"repair no bucket", Message{Type: TypeRepairRequest}, "no bucket"},
		{"too long", many, "MaxDatagram"},
		{"unknown kind", Message{Type: TypeUpdate, Seq: 1, Records: []Record{{Kind: 8}}}, "record kind 8"},
		{"nil digest", Message{Type: TypeUpdate, Seq: 1, Records: []Record{{Kind: RecordDigest}}}, "without Digest"},
		{"digest bad table", Message{Type: TypeUpdate, Seq: 1, Records: []Record{{Kind: RecordDigest, Digest: &Digest{Table: 3}}}}, "table 3"},
		{"sweep no bucket", Message{Type: TypeUpdate, Seq: 1, Records: []Record{{Kind: RecordSweepBegin}}}, "no bucket"},
		{"sweep bad table", Message{Type: TypeUpdate, Seq: 1, Records: []Record{{Kind: RecordSweepEnd, Sweep: Sweep{Table: 7, Buckets: 1}}}}, "table 7"},
		{"missing address", bad(func(e *ct.Entry) { e.Reply.Dst = netip.Addr{} }), "reply destination address missing"},
		{"mixed families", bad(func(e *ct.Entry) { e.Reply.Src = netip.AddrFrom16([16]byte{15: 1}) }), "not IPv4"},
		{"scoped address", bad(func(e *ct.Entry) {
			e.Orig.Src = netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: 1}).WithZone("eth0")
		}), "scoped"},
		{"reply protocol", bad(func(e *ct.Entry) { e.Reply.Proto = ct.ProtoUDP }), "protocol 17"},
		{"ports on gre", bad(func(e *ct.Entry) { e.Orig.Proto, e.Reply.Proto, e.TCP = ct.ProtoGRE, ct.ProtoGRE, ct.TCPInfo{} }), "ports on protocol 47"},
		{"icmp fields on tcp", bad(func(e *ct.Entry) { e.Orig.ICMPType = 8 }), "ICMP fields"},
		{"tcp state on udp", bad(func(e *ct.Entry) { e.Orig.Proto, e.Reply.Proto = ct.ProtoUDP, ct.ProtoUDP }), "TCP state"},
		{"sctp state on tcp", bad(func(e *ct.Entry) { e.SCTP.State = 1 }), "SCTP state"},
		{"long helper", bad(func(e *ct.Entry) { e.Helper = strings.Repeat("h", 16) }), "longer than 15"},
		{"helper nul", bad(func(e *ct.Entry) { e.Helper = "f\x00p" }), "NUL"},
		{"expect master address", badX(func(x *ct.Expect) { x.Master.Dst = netip.Addr{} }), "master destination address missing"},
		{"expect mixed", badX(func(x *ct.Expect) { x.Mask.Src = netip.AddrFrom16([16]byte{}) }), "not IPv4"},
		{"expect nat ports", badX(func(x *ct.Expect) { x.NATTuple = ct.Tuple{Proto: ct.ProtoGRE, SrcPort: 1} }), "ports on protocol 47"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := NewCodec(nil).Append(dst, &tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Marshal error %v, want one containing %q", err, tc.want)
			}
			if string(got) != "keep" {
				t.Errorf("Append returned %q on error, want dst unchanged", got)
			}
		})
	}
}

// TestCS_B21EveryDropReason: each reason is reachable, and each comes with
// a *DropError whose String is the counter name.
func TestCS_B21EveryDropReason(t *testing.T) {
	plain, secret := NewCodec(nil), NewCodec(testSecret)
	good := func(c *Codec, m Message) []byte {
		b, err := c.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	upd := Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(tcp4()), upsert(udp6())}}
	upd1 := Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(tcp4())}}
	// edit returns a plain datagram of m changed by fn.
	edit := func(m Message, fn func([]byte) []byte) []byte { return fn(good(plain, m)) }
	// recOff is where the first record starts in a plain update.
	const recOff = HeaderLen + updateFieldsLen
	tests := []struct {
		name   string
		codec  *Codec
		b      []byte
		reason DropReason
		detail string
	}{
		{"empty", plain, nil, DropTruncated, "shorter than the magic"},
		{"magic only", plain, Magic[:], DropTruncated, "before the version"},
		{"header cut", plain, good(plain, Message{Type: TypeAck})[:HeaderLen-1], DropTruncated, "header"},
		{"ack cut", plain, good(plain, Message{Type: TypeAck})[:HeaderLen+3], DropTruncated, "fields take"},
		{"record cut", plain, good(plain, upd)[:recOff+10], DropTruncated, "overruns the datagram"},
		{"count too high", plain, edit(upd, func(b []byte) []byte { b[recOff-1] = 3; return b }), DropTruncated, "record 2 of 3 missing"},
		{"mac cut", secret, good(secret, Message{Type: TypeResyncRequest})[:HeaderLen+MACLen-1], DropTruncated, "too short for a MAC"},
		{"too long", plain, make([]byte, MaxDatagram+1), DropTooLong, "at most 1400"},
		{"bad magic", plain, []byte("hacl\x01\x01\x00\x00"), DropBadMagic, "not a ctsyncd"},
		{"conntrackd", plain, []byte{0x00, 0x01, 0x00, 0x2c, 0, 0, 0, 0}, DropBadMagic, "not a ctsyncd"},
		{"version 2", plain, edit(upd, func(b []byte) []byte { b[4] = 2; return b }), DropBadVersion, "speaks version 1"},
		{"no secret here", plain, good(secret, upd), DropUnexpectedMAC, "the peer has a secret configured and this node does not"},
		{"no secret there", secret, good(plain, upd), DropUnauthenticated, "peer has none configured"},
		{"other secret", NewCodec([]byte("other")), good(secret, upd), DropBadMAC, "MAC does not match"},
		{"unknown type", plain, edit(Message{Type: TypeResyncRequest}, func(b []byte) []byte { b[5] = 7; return b }), DropUnknownType, "type 7"},
		{"type 0", plain, edit(Message{Type: TypeResyncRequest}, func(b []byte) []byte { b[5] = 0; return b }), DropUnknownType, "type 0"},
		{"undefined flag", plain, edit(upd, func(b []byte) []byte { b[6] = 0x80; return b }), DropBadField, "flags"},
		{"reserved", plain, edit(upd, func(b []byte) []byte { b[7] = 1; return b }), DropBadField, "reserved"},
		{"seq 0", plain, edit(upd, func(b []byte) []byte { b[HeaderLen+3] = 0; return b }), DropBadField, "Seq 0"},
		{"nack upside down", plain, edit(Message{Type: TypeNack, From: 1, To: 1}, func(b []byte) []byte { b[HeaderLen+3] = 2; return b }), DropBadField, "nack range 2..1"},
		{"alive state", plain, edit(Message{Type: TypeAlive}, func(b []byte) []byte { b[HeaderLen+4] = 9; return b }), DropBadField, "state 9"},
		{"repair table", plain, edit(Message{Type: TypeRepairRequest, Buckets: 1}, func(b []byte) []byte { b[HeaderLen] = 2; return b }), DropBadField, "table 2"},
		{"repair empty", plain, edit(Message{Type: TypeRepairRequest, Buckets: 1}, func(b []byte) []byte { b[len(b)-1] = 0; return b }), DropBadField, "without buckets"},
		{"zero records", plain, edit(upd1, func(b []byte) []byte { b[recOff-1] = 0; return b[:recOff] }), DropBadRecord, "without records"},
		{"unknown kind", plain, edit(upd1, func(b []byte) []byte { b[recOff] = 8; return b }), DropBadRecord, "record kind 8"},
		{"family 5", plain, edit(upd1, func(b []byte) []byte { b[recOff+1] = 5; return b }), DropBadRecord, "family 5"},
		{"presence bit undefined", plain, edit(upd1, func(b []byte) []byte { b[recOff+3] |= 0x80; return b }), DropBadRecord, "presence bits"},
		{"tcp on udp", plain, edit(upd1, func(b []byte) []byte { b[recOff+2] = ct.ProtoUDP; return b }), DropBadRecord, "TCP state on a protocol 17"},
		{"zero tcp info", plain, edit(upd1, func(b []byte) []byte {
			clear(b[recOff+4+24+8 : recOff+4+24+8+5])
			return b
		}), DropBadRecord, "zero"},
		{"zero sequence adjustment", plain, edit(Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(ftpPASV())}}, func(b []byte) []byte {
			clear(b[recOff+4+24+8+5 : recOff+4+24+8+5+seqAdjLen])
			return b
		}), DropBadRecord, "zero"},
		{"function length 0", plain, edit(Message{Type: TypeUpdate, Seq: 1, Records: []Record{expectUpsert(natFollowMaster())}},
			func(b []byte) []byte { b[len(b)-1-len("nat-follow-master")] = 0; return b }), DropBadRecord, "expectation function name of 0"},
		{"mark bit on delete", plain, edit(Message{Type: TypeUpdate, Seq: 1, Records: []Record{deleteOf(tcp4())}}, func(b []byte) []byte { b[recOff+3] = entryMark; return b }), DropBadRecord, "presence bits"},
		{"sweep no bucket", plain, edit(Message{Type: TypeUpdate, Seq: 1, Records: []Record{{Kind: RecordSweepBegin, Sweep: Sweep{Buckets: 1}}}},
			func(b []byte) []byte { b[len(b)-1] = 0; return b }), DropBadRecord, "no bucket"},
		{"helper length 0", plain, edit(Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(ftpControl())}},
			func(b []byte) []byte { b[len(b)-4] = 0; return b }), DropBadRecord, "helper name of 0"},
		{"master without address", plain, edit(Message{Type: TypeUpdate, Seq: 1, Records: []Record{expectDeleteOf(ftpData())}},
			func(b []byte) []byte { b[recOff+4] = tupleSrc; return b }), DropBadRecord, "master tuple"},
		{"trailing after record", plain, edit(upd1, func(b []byte) []byte { return append(b, 0) }), DropTrailing, "1 octets after the end of the update"},
		{"trailing after ack", plain, edit(Message{Type: TypeAck}, func(b []byte) []byte { return append(b, 1, 2) }), DropTrailing, "2 octets"},
	}
	seen := map[DropReason]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{Records: make([]Record, 1, 4)}
			m.Records[0] = upsert(icmp4())
			err := tc.codec.UnmarshalInto(tc.b, m)
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %v (%v), want %v", got, err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("error %q does not say %q", err, tc.detail)
			}
			if m.Type != 0 || len(m.Records) != 0 || cap(m.Records) != 4 {
				t.Errorf("after a drop the message is %+v (cap %d), want zero with Records' capacity kept", m, cap(m.Records))
			}
			if got, err2 := tc.codec.Unmarshal(tc.b); got != nil || ReasonOf(err2) != tc.reason {
				t.Errorf("Unmarshal = %v, %v", got, err2)
			}
			seen[tc.reason] = true
		})
	}
	for _, r := range DropReasons() {
		if !seen[r] {
			t.Errorf("drop reason %v not reached by any case", r)
		}
	}
}

func TestDropReasonNames(t *testing.T) {
	want := "truncated too-long bad-magic bad-version unexpected-mac unauthenticated bad-mac unknown-type bad-field bad-record trailing"
	var got []string
	for _, r := range DropReasons() {
		got = append(got, r.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("counter names %q, want %q", strings.Join(got, " "), want)
	}
	if DropReason(200).String() != "drop-reason-200" {
		t.Errorf("unknown reason named %q", DropReason(200))
	}
	var c DropCounts
	c[DropBadMAC] += 2
	c[DropTruncated]++
	if c.Total() != 3 {
		t.Errorf("Total %d", c.Total())
	}
}

// TestCS_B21Tamper: changing any octet, or any bit, of an authenticated
// datagram gets it dropped.
func TestCS_B21Tamper(t *testing.T) {
	c := NewCodec(testSecret)
	m := Message{Type: TypeUpdate, Boot: 1, Counter: 2, Seq: 3, Records: []Record{upsert(tcp4()), upsert(udp6()), {Kind: RecordDigest, Digest: digest(TableMain)}}}
	b, err := c.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for _, x := range []byte{0xff, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80} {
			tb := bytes.Clone(b)
			tb[i] ^= x
			if _, err := c.Unmarshal(tb); ReasonOf(err) == DropNone {
				t.Fatalf("octet %d ^ %#02x: accepted (%v)", i, x, err)
			}
		}
	}
	for n := range len(b) {
		if _, err := c.Unmarshal(b[:n]); ReasonOf(err) == DropNone {
			t.Fatalf("cut to %d octets: accepted", n)
		}
	}
	if _, err := c.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
}

// The MAC key is derived, not the secret itself, and depends on every
// octet of the secret.
func TestKeyDerivation(t *testing.T) {
	a, b := NewCodec([]byte("secret")), NewCodec([]byte("secreT"))
	if a.key == b.key {
		t.Error("two secrets, one key")
	}
	if !bytes.Equal(NewCodec([]byte("secret")).key[:], a.key[:]) {
		t.Error("key not deterministic")
	}
	if string(a.key[:6]) == "secret" {
		t.Error("the key is the secret")
	}
	if NewCodec(nil).Authenticated() || NewCodec([]byte{}).Authenticated() || !a.Authenticated() {
		t.Error("Authenticated wrong")
	}
	if NewCodec(nil).Overhead() != 22 || a.Overhead() != 38 {
		t.Errorf("Overhead %d, %d", NewCodec(nil).Overhead(), a.Overhead())
	}
}

// UnmarshalInto reuses the records slice and decodes the common records
// without allocating (CS-B14's 100k entries per second).
func TestUnmarshalIntoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	for cname, c := range codecs() {
		m := fullUpdate()
		m.Records = append(m.Records, upsert(ftpControl()), deleteOf(udp6()))
		b, err := c.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := c.UnmarshalInto(b, &got); err != nil {
			t.Fatal(err)
		}
		first := &got.Records[0]
		allocs := testing.AllocsPerRun(100, func() {
			if err := c.UnmarshalInto(b, &got); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: UnmarshalInto allocates %v times per datagram, want 0", cname, allocs)
		}
		if &got.Records[0] != first {
			t.Errorf("%s: Records not reused", cname)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: decoded differently on reuse", cname)
		}
		ack, _ := c.Marshal(&Message{Type: TypeAck, Ack: 1})
		if err := c.UnmarshalInto(ack, &got); err != nil || got.Ack != 1 || len(got.Records) != 0 || cap(got.Records) < len(m.Records) {
			t.Errorf("%s: an Ack into a reused message: %+v, %v; want its Records empty with the capacity kept", cname, got, err)
		}
		buf := make([]byte, 0, MaxDatagram)
		allocs = testing.AllocsPerRun(100, func() {
			if buf, err = c.Append(buf[:0], &m); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Append allocates %v times per datagram, want 0", cname, allocs)
		}
	}
}

// fullUpdate is an authenticated-size datagram full of typical entries.
func fullUpdate() Message {
	m := Message{Type: TypeUpdate, Boot: 1, Counter: 1, Seq: 1}
	r := upsert(tcp4())
	for range (MaxDatagram - NewCodec(testSecret).Overhead() - 100) / RecordSize(&r) {
		m.Records = append(m.Records, r)
	}
	return m
}

func BenchmarkMarshal(b *testing.B) {
	for cname, c := range codecs() {
		b.Run(cname, func(b *testing.B) {
			m := fullUpdate()
			buf := make([]byte, 0, MaxDatagram)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.Append(buf[:0], &m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(m.Records)), "ns/record")
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for cname, c := range codecs() {
		b.Run(cname, func(b *testing.B) {
			m := fullUpdate()
			buf, err := c.Marshal(&m)
			if err != nil {
				b.Fatal(err)
			}
			var got Message
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if err := c.UnmarshalInto(buf, &got); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(m.Records)), "ns/record")
		})
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{TypeUpdate.String(), "update"}, {TypeRepairRequest.String(), "repair-request"}, {Type(0).String(), "type(0)"},
		{RecordDigest.String(), "digest"}, {RecordKind(9).String(), "kind(9)"},
		{TableMain.String(), "main"}, {TableExpect.String(), "expect"}, {Table(2).String(), "table(2)"},
		{StatePrimary.String(), "primary"}, {StateBackup.String(), "backup"}, {StateFault.String(), "fault"},
		{StateUnknown.String(), "unknown"}, {State(4).String(), "state(4)"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

// An entry or expectation the codec cannot carry is caught before it
// enters a cache.
func TestCheckEntryExpect(t *testing.T) {
	good := ct.Entry{
		Orig:  ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ct.ProtoTCP, SrcPort: 1, DstPort: 2},
		Reply: ct.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: ct.ProtoTCP, SrcPort: 2, DstPort: 1},
	}
	if err := CheckEntry(&good); err != nil {
		t.Errorf("good entry: %v", err)
	}
	bad := good
	bad.Reply.Src = netip.MustParseAddr("2001:db8::1")
	if err := CheckEntry(&bad); err == nil {
		t.Error("entry mixing families passed")
	}
	x := ct.Expect{Master: good.Orig, Tuple: good.Reply, Mask: ct.Tuple{Src: netip.MustParseAddr("255.255.255.255"), Proto: 0xff, SrcPort: 0xffff}}
	if err := CheckExpect(&x); err == nil {
		t.Error("expectation with ports on a protocol without them passed")
	}
}
