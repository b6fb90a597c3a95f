package wire

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// Magic opens every datagram: "hact" (hasuite conntrack), so that a
// capture, or a conntrackd on the same port, tells the two apart.
var Magic = [4]byte{'h', 'a', 'c', 't'}

// Version is the only format version this package speaks. A change of
// layout is a new version; a receiver drops versions it does not know
// (DropBadVersion) rather than guess.
const Version = 1

// FlagAuthenticated marks a datagram that ends in a MAC. It is in the
// header, not implied by the configuration, so that a receiver tells "the
// peer has a secret and I do not" from garbage.
const FlagAuthenticated = 0x01

const (
	// HeaderLen is the common header: magic, version, type, flags,
	// reserved, Boot, Counter.
	HeaderLen = 16
	// MACLen is the length of the truncated HMAC-SHA256 trailer of an
	// authenticated datagram. 128 bits: a forger gets one try per
	// datagram and a rejected try changes nothing.
	MACLen = 16
	// MaxHelperLen is the longest helper name (NF_CT_HELPER_NAME_LEN less
	// the NUL).
	MaxHelperLen = 15
	// MaxExpectFnLen is the longest expectation function name: the
	// kernel's are short ("nat-follow-master", "sip", "Q.931"); a
	// length octet would allow more than a sane peer sends.
	MaxExpectFnLen = 31

	updateFieldsLen = 6 // Seq, record count
)

// keyInfo is the HKDF info: it binds the key to this protocol and version,
// so that a secret reused elsewhere (clusterd, another version) never yields
// interchangeable MACs.
const keyInfo = "hasuite ctsyncd sync v1"

// Codec encodes and decodes the datagrams of one sync channel, with or
// without a secret. It is immutable and safe for concurrent use.
type Codec struct {
	auth bool
	key  [sha256.Size]byte
	macs sync.Pool // of *macState keyed with key
}

// NewCodec returns the codec for secret; a nil or empty secret means
// unauthenticated datagrams. The secret is copied.
func NewCodec(secret []byte) *Codec {
	c := &Codec{}
	if len(secret) == 0 {
		return c
	}
	raw, err := hkdf.Key(sha256.New, secret, nil, keyInfo, sha256.Size)
	if err != nil {
		// hkdf.Key fails only for a length beyond 255 hash sizes.
		panic("wire: derive key: " + err.Error())
	}
	copy(c.key[:], raw)
	c.auth = true
	c.macs.New = func() any { return &macState{h: hmac.New(sha256.New, c.key[:])} }
	return c
}

// Authenticated reports whether the codec has a secret.
func (c *Codec) Authenticated() bool { return c.auth }

// Overhead is what an Update costs besides its records: the header, Seq
// and record count, and the MAC with a secret. A sender fills a datagram
// while Overhead() + the sum of RecordSize stays within MaxDatagram.
func (c *Codec) Overhead() int {
	n := HeaderLen + updateFieldsLen
	if c.auth {
		n += MACLen
	}
	return n
}

// Size is the exact length of m's datagram (whether or not Marshal
// accepts it).
func (c *Codec) Size(m *Message) int {
	n := HeaderLen + typeFieldsLen(m.Type)
	if m.Type == TypeUpdate {
		for i := range m.Records {
			n += RecordSize(&m.Records[i])
		}
		if len(m.Records) == 0 {
			n += len(m.Raw)
		}
	}
	if c.auth {
		n += MACLen
	}
	return n
}

func typeFieldsLen(t Type) int {
	switch t {
	case TypeUpdate:
		return updateFieldsLen
	case TypeAck:
		return 4
	case TypeNack:
		return 8
	case TypeAlive:
		return 5
	case TypeRepairRequest:
		return 9
	}
	return 0
}

// Marshal encodes m into a new datagram. It refuses (with an error naming
// the field) a message a receiver would drop and one longer than
// MaxDatagram. Fields that m's type does not use are ignored, except
// Records, which only an Update may hold.
func (c *Codec) Marshal(m *Message) ([]byte, error) {
	return c.Append(make([]byte, 0, c.Size(m)), m)
}

// Append is Marshal appending to dst, for a sender that reuses its buffer.
// On error it returns dst unchanged.
func (c *Codec) Append(dst []byte, m *Message) ([]byte, error) {
	start := len(dst)
	b, err := c.appendMessage(dst, m)
	if err != nil {
		return dst[:start], fmt.Errorf("wire: marshal %v: %w", m.Type, err)
	}
	if n := len(b) - start; n > MaxDatagram {
		return dst[:start], fmt.Errorf("wire: marshal %v: %d octets, more than MaxDatagram (%d): put fewer records in it (Overhead + RecordSize)", m.Type, n, MaxDatagram)
	}
	return b, nil
}

func (c *Codec) appendMessage(b []byte, m *Message) ([]byte, error) {
	start := len(b)
	var flags byte
	if c.auth {
		flags |= FlagAuthenticated
	}
	b = append(b, Magic[0], Magic[1], Magic[2], Magic[3], Version, byte(m.Type), flags, 0)
	b = binary.BigEndian.AppendUint32(b, m.Boot)
	b = binary.BigEndian.AppendUint32(b, m.Counter)
	if m.Type != TypeUpdate && (len(m.Records) != 0 || m.RawCount != 0 || len(m.Raw) != 0) {
		return nil, fmt.Errorf("%d records: only an Update carries records", len(m.Records)+m.RawCount)
	}
	switch m.Type {
	case TypeUpdate:
		if m.Seq == 0 {
			return nil, errors.New("update Seq 0: updates are numbered from 1")
		}
		if len(m.Records) != 0 && (m.RawCount != 0 || len(m.Raw) != 0) {
			return nil, errors.New("both Records and Raw set: an Update carries one or the other")
		}
		n := len(m.Records) + m.RawCount
		if n == 0 {
			return nil, errors.New("no records: an Update carries at least one")
		}
		if n > 0xffff {
			return nil, fmt.Errorf("%d records: at most 65535", n)
		}
		b = binary.BigEndian.AppendUint32(b, m.Seq)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		for i := range m.Records {
			var err error
			if b, err = appendRecord(b, &m.Records[i]); err != nil {
				return nil, fmt.Errorf("record %d (%v): %w", i, m.Records[i].Kind, err)
			}
		}
		if m.RawCount != 0 {
			// Raw comes from AppendRecord, which checked every record; a
			// count that cannot match its length is a caller's slip.
			if m.RawCount < 0 || len(m.Raw) < m.RawCount*minRecordLen {
				return nil, fmt.Errorf("%d raw records in %d octets: a record takes at least %d (build Raw with AppendRecord)", m.RawCount, len(m.Raw), minRecordLen)
			}
			b = append(b, m.Raw...)
		}
	case TypeAck:
		b = binary.BigEndian.AppendUint32(b, m.Ack)
	case TypeNack:
		if m.From == 0 || m.From > m.To {
			return nil, fmt.Errorf("range %d..%d: want 1 <= From <= To", m.From, m.To)
		}
		b = binary.BigEndian.AppendUint32(b, m.From)
		b = binary.BigEndian.AppendUint32(b, m.To)
	case TypeAlive:
		if m.State > StateFault {
			return nil, fmt.Errorf("state %d: use a State constant", m.State)
		}
		b = binary.BigEndian.AppendUint32(b, m.Ack)
		b = append(b, byte(m.State))
	case TypeResyncRequest:
	case TypeRepairRequest:
		if m.Table > TableExpect {
			return nil, fmt.Errorf("table %d: use TableMain or TableExpect", m.Table)
		}
		if m.Buckets == 0 {
			return nil, errors.New("no bucket to repair")
		}
		b = append(b, byte(m.Table))
		b = binary.BigEndian.AppendUint64(b, m.Buckets)
	default:
		return nil, fmt.Errorf("type %d: use a Type constant", m.Type)
	}
	if c.auth {
		b = c.appendMAC(b, b[start:])
	}
	return b, nil
}

// macState is a keyed HMAC and the buffer its sum goes to, pooled so
// that neither is allocated per datagram.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// appendMAC appends the MAC of signed to b.
func (c *Codec) appendMAC(b, signed []byte) []byte {
	s := c.macs.Get().(*macState)
	s.h.Reset()
	s.h.Write(signed)
	b = append(b, s.h.Sum(s.sum[:0])[:MACLen]...)
	c.macs.Put(s)
	return b
}

// macOK checks mac against signed in constant time.
func (c *Codec) macOK(signed, mac []byte) bool {
	s := c.macs.Get().(*macState)
	s.h.Reset()
	s.h.Write(signed)
	ok := hmac.Equal(s.h.Sum(s.sum[:0])[:MACLen], mac)
	c.macs.Put(s)
	return ok
}

// Unmarshal decodes and checks one received datagram. Every error is a
// *DropError; the message is whole or absent, never part of it. It never
// panics, whatever b holds.
//
// Unmarshal checks everything a datagram says about itself; what depends on
// earlier datagrams (Boot, Counter, Seq: order, replay) is the receiver's,
// see docs/ctsyncd-wire.md.
func (c *Codec) Unmarshal(b []byte) (*Message, error) {
	m := new(Message)
	if err := c.UnmarshalInto(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalInto is Unmarshal into m, reusing the capacity of m.Records so
// that a receiver decodes without allocating (except digests and helper
// names it does not know). It overwrites every field of m; on error m is
// the zero Message with an empty Records of the same capacity. The
// records' Entry and Expect values are copies: m owns nothing of b. A
// receiver that keeps a decoded message (buffered ahead of a gap) must
// not pass it here again: its records would be overwritten.
func (c *Codec) UnmarshalInto(b []byte, m *Message) error {
	recs := m.Records[:0]
	*m = Message{}
	if err := c.decode(b, m, recs); err != nil {
		*m = Message{Records: recs[:0]}
		return err
	}
	return nil
}

func (c *Codec) decode(b []byte, m *Message, recs []Record) *DropError {
	if len(b) > MaxDatagram {
		return drop(DropTooLong, "%d octets: a version %d datagram has at most %d", len(b), Version, MaxDatagram)
	}
	if len(b) < len(Magic) {
		return drop(DropTruncated, "%d octets: shorter than the magic", len(b))
	}
	if [4]byte(b[0:4]) != Magic {
		return drop(DropBadMagic, "magic %x: not a ctsyncd sync datagram (want %x)", b[0:4], Magic[:])
	}
	if len(b) < 5 {
		return drop(DropTruncated, "%d octets: ends before the version", len(b))
	}
	if b[4] != Version {
		return drop(DropBadVersion, "version %d: this node speaks version %d only (run the same ctsyncd on both nodes)", b[4], Version)
	}
	if len(b) < HeaderLen {
		return drop(DropTruncated, "%d octets: the header has %d", len(b), HeaderLen)
	}
	flags := b[6]
	if flags&^FlagAuthenticated != 0 {
		return drop(DropBadField, "flags %#02x: undefined bits set", flags)
	}
	if b[7] != 0 {
		return drop(DropBadField, "reserved octet 7 is %#02x, want 0", b[7])
	}
	body := b
	switch authed := flags&FlagAuthenticated != 0; {
	case authed && !c.auth:
		return drop(DropUnexpectedMAC, "the datagram is authenticated: the peer has a secret configured and this node does not (configure the same secret on both nodes)")
	case !authed && c.auth:
		return drop(DropUnauthenticated, "the datagram carries no MAC and this node has a secret: the peer has none configured, or the datagram is forged")
	case authed:
		if len(b) < HeaderLen+MACLen {
			return drop(DropTruncated, "%d octets: too short for a MAC", len(b))
		}
		body = b[:len(b)-MACLen]
		if !c.macOK(body, b[len(body):]) {
			return drop(DropBadMAC, "the MAC does not match: the secrets differ, or the datagram was altered")
		}
	}
	m.Type = Type(b[5])
	m.Boot = binary.BigEndian.Uint32(b[8:12])
	m.Counter = binary.BigEndian.Uint32(b[12:16])
	fields := typeFieldsLen(m.Type)
	if m.Type < TypeUpdate || m.Type > TypeRepairRequest {
		return drop(DropUnknownType, "type %d: this version knows types %d to %d", b[5], TypeUpdate, TypeRepairRequest)
	}
	rest := body[HeaderLen:]
	if len(rest) < fields {
		return drop(DropTruncated, "%v of %d octets: its fields take %d", m.Type, len(body), HeaderLen+fields)
	}
	f := rest[:fields]
	rest = rest[fields:]
	switch m.Type {
	case TypeUpdate:
		m.Seq = binary.BigEndian.Uint32(f[0:4])
		n := int(binary.BigEndian.Uint16(f[4:6]))
		if m.Seq == 0 {
			return drop(DropBadField, "update Seq 0: updates are numbered from 1")
		}
		if n == 0 {
			return drop(DropBadRecord, "update %d without records", m.Seq)
		}
		if n > cap(recs) {
			// Bounded by what fits: a record takes at least 14 octets, so
			// a forged count cannot make us allocate much.
			recs = make([]Record, 0, min(n, len(rest)/minRecordLen+1))
		}
		for i := range n {
			if len(rest) == 0 {
				return drop(DropTruncated, "update %d: record %d of %d missing", m.Seq, i, n)
			}
			recs = append(recs, Record{})
			used, err := decodeRecord(rest, &recs[i])
			if err != nil {
				err.Detail = fmt.Sprintf("update %d record %d: %s", m.Seq, i, err.Detail)
				return err
			}
			rest = rest[used:]
		}
		m.Records = recs
	case TypeAck:
		m.Ack = binary.BigEndian.Uint32(f)
	case TypeNack:
		m.From = binary.BigEndian.Uint32(f[0:4])
		m.To = binary.BigEndian.Uint32(f[4:8])
		if m.From == 0 || m.From > m.To {
			return drop(DropBadField, "nack range %d..%d: want 1 <= from <= to", m.From, m.To)
		}
	case TypeAlive:
		m.Ack = binary.BigEndian.Uint32(f[0:4])
		m.State = State(f[4])
		if m.State > StateFault {
			return drop(DropBadField, "alive state %d: this version knows states 0 to %d", f[4], StateFault)
		}
	case TypeRepairRequest:
		m.Table = Table(f[0])
		m.Buckets = binary.BigEndian.Uint64(f[1:9])
		if m.Table > TableExpect {
			return drop(DropBadField, "repair table %d: want 0 (main) or 1 (expect)", f[0])
		}
		if m.Buckets == 0 {
			return drop(DropBadField, "repair request without buckets")
		}
	}
	if len(rest) != 0 {
		return drop(DropTrailing, "%d octets after the end of the %v", len(rest), m.Type)
	}
	m.Records = recs // empty but for an Update: the capacity stays with m
	return nil
}
