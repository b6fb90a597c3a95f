package sync

import "github.com/hasuite/hasuite/ctsyncd/internal/wire"

// The sync channel is one socket for both tables, while `show
// conntrack-sync statistics` has a traffic block per table (CS-O03,
// Example 4-16). A datagram is counted under the tables whose records it
// carries:
//
//   - an update under main when it carries main-table records (UPSERT,
//     DELETE, a SWEEP or DIGEST record of the main table), under expect
//     when it carries expectation records (EXPECT-UPSERT/DELETE, a SWEEP
//     or DIGEST record of the expect table), under both when it carries
//     both;
//   - a REPAIR request under the table it names;
//   - every other control datagram (ACK, NACK, ALIVE, RESYNC request)
//     and a datagram the codec refused under main: they serve the whole
//     channel or name no table. Send and receive errors are main's too.
//
// A datagram of both tables is rare on a quiet link (the one where a full
// resync's main sweep ends and its expect sweep begins) but common under
// churn, where an expectation shares its datagram with ~30 entries:
// Counters.Mixed counts them. So that the bytes still add up, a table's
// bytes are its records' own octets, and the rest of every datagram (the
// header, the MAC) is main's: main's bytes + expect's = the channel's,
// and without expectations main's figures are the channel's.

// Traffic is datagrams and their bytes, as the shell reported them
// (NoteSent, NoteReceived).
type Traffic struct {
	BytesSent, BytesRecv     uint64
	PacketsSent, PacketsRecv uint64
}

// TableCounters is one table's share of the channel, indexed by
// wire.Table in Counters.Tables.
type TableCounters struct {
	// Traffic: the datagrams that carried the table's records (a
	// datagram of both tables counts under each); bytes: its records'
	// octets, and for main also every datagram's header and MAC.
	Traffic
	// Retransmits: updates of this table sent again; an update of both
	// tables counts under main only.
	Retransmits uint64
	// RepairsSent, RepairsAnswered, DigestsOK, DigestsMismatch: as in
	// Counters, for this table's digests and repairs.
	RepairsSent, RepairsAnswered uint64
	DigestsOK, DigestsMismatch   uint64
}

// Mixed counts the datagrams of both tables, counted under each.
type Mixed struct {
	PacketsSent, PacketsRecv uint64
}

// tables is a set of wire.Tables.
type tables uint8

const (
	inMain   tables = 1 << wire.TableMain
	inExpect tables = 1 << wire.TableExpect
)

// tableOf is t's set; a table this version does not know counts as main.
func tableOf(t wire.Table) tables {
	if t == wire.TableExpect {
		return inExpect
	}
	return inMain
}

// share is how a datagram divides between the tables: the tables it
// counts under and the octets of its expectation records.
type share struct {
	tables tables
	xbytes int
}

var mainOnly = share{tables: inMain}

// add counts a record of size octets about table t.
func (sh *share) add(t wire.Table, size int) {
	sh.tables |= tableOf(t)
	if t == wire.TableExpect {
		sh.xbytes += size
	}
}

// orMain makes a datagram of no record main's.
func (sh share) orMain() share {
	if sh.tables == 0 {
		sh.tables = inMain
	}
	return sh
}

// recordTable is the table r is about.
func recordTable(r *wire.Record) wire.Table {
	switch r.Kind {
	case wire.RecordExpectUpsert, wire.RecordExpectDelete:
		return wire.TableExpect
	case wire.RecordSweepBegin, wire.RecordSweepEnd:
		return r.Sweep.Table
	case wire.RecordDigest:
		if r.Digest != nil {
			return r.Digest.Table
		}
	}
	return wire.TableMain
}

// recordsShare is the share of an update of recs.
func recordsShare(recs []wire.Record) share {
	var sh share
	for i := range recs {
		r := &recs[i]
		t := recordTable(r)
		size := 0
		if t == wire.TableExpect {
			size = wire.RecordSize(r)
		}
		sh.add(t, size)
	}
	return sh.orMain()
}

// rawShare is the share of an update of n records in wire form. It
// decodes them: only for an update the resend queue no longer holds
// (never expected).
func rawShare(raw []byte, n int) share {
	var sh share
	var r wire.Record
	for range n {
		k, err := wire.ParseRecord(raw, &r)
		if err != nil {
			break
		}
		sh.add(recordTable(&r), k)
		raw = raw[k:]
	}
	return sh.orMain()
}

// sentShare is the share of a datagram this session emitted.
func (s *Session) sentShare(m *wire.Message) share {
	switch m.Type {
	case wire.TypeUpdate:
		if len(m.Records) > 0 {
			return recordsShare(m.Records)
		}
		if d := s.snd.find(m.Seq); d != nil && len(d.recs) == len(m.Raw) {
			return d.share()
		}
		return rawShare(m.Raw, m.RawCount)
	case wire.TypeRepairRequest:
		return share{tables: tableOf(m.Table)}
	}
	return mainOnly
}

// receivedShare is the share of a datagram received; m is nil when the
// codec refused it.
func receivedShare(m *wire.Message) share {
	if m == nil {
		return mainOnly
	}
	switch m.Type {
	case wire.TypeUpdate:
		return recordsShare(m.Records)
	case wire.TypeRepairRequest:
		return share{tables: tableOf(m.Table)}
	}
	return mainOnly
}

// countSent and countReceived count a datagram of n octets.
func (c *Counters) countSent(sh share, n int)     { c.count(sh, n, true) }
func (c *Counters) countReceived(sh share, n int) { c.count(sh, n, false) }

func (c *Counters) count(sh share, n int, sent bool) {
	side, mixed := receivedSide, &c.Mixed.PacketsRecv
	if sent {
		side, mixed = sentSide, &c.Mixed.PacketsSent
	}
	packets, bytes := side(&c.Traffic)
	*packets++
	*bytes += uint64(n)
	mainPackets, mainBytes := side(&c.Tables[wire.TableMain].Traffic)
	xPackets, xBytes := side(&c.Tables[wire.TableExpect].Traffic)
	*mainBytes += uint64(n - sh.xbytes)
	*xBytes += uint64(sh.xbytes)
	if sh.tables&inMain != 0 {
		*mainPackets++
	}
	if sh.tables&inExpect != 0 {
		*xPackets++
	}
	if sh.tables == inMain|inExpect {
		*mixed++
	}
}

// sentSide and receivedSide pick a Traffic's packets and bytes of one
// direction.
func sentSide(t *Traffic) (packets, bytes *uint64)     { return &t.PacketsSent, &t.BytesSent }
func receivedSide(t *Traffic) (packets, bytes *uint64) { return &t.PacketsRecv, &t.BytesRecv }

// table is t's counters; an unknown table's are main's.
func (c *Counters) table(t wire.Table) *TableCounters {
	if t == wire.TableExpect {
		return &c.Tables[wire.TableExpect]
	}
	return &c.Tables[wire.TableMain]
}
