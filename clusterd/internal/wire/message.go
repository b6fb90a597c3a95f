package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Magic opens every heartbeat: "hacl", so that a capture or a Linux-HA
// heartbeat daemon sharing UDP port 694 tells the two apart at a glance.
var Magic = [4]byte{'h', 'a', 'c', 'l'}

// Version is the only format version this package speaks. A change of
// layout is a new version; a receiver drops versions it does not know
// (DropVersion) rather than guess.
const Version = 1

// Type says what a message announces.
type Type uint8

const (
	// TypeHeartbeat is the periodic "I am alive" of CL-B04.
	TypeHeartbeat Type = 1
	// TypeLeaving is the last message of a clean stop (CL-B24): the peer
	// may take over at once instead of after dead-interval.
	TypeLeaving Type = 2
)

func (t Type) String() string {
	switch t {
	case TypeHeartbeat:
		return "heartbeat"
	case TypeLeaving:
		return "leaving"
	default:
		return fmt.Sprintf("type(%d)", uint8(t))
	}
}

// Role is the sender's configured role in the group (CL-B02).
type Role uint8

const (
	RolePrimary   Role = 1
	RoleSecondary Role = 2
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleSecondary:
		return "secondary"
	default:
		return fmt.Sprintf("role(%d)", uint8(r))
	}
}

// Flags are the sender's state bits. Bits this version does not define are
// carried and authenticated but mean nothing to it: a later sender may set
// them without breaking older receivers.
type Flags uint16

const (
	// FlagHoldsResources: the sender holds the group's resources (CL-B06,
	// split-brain detection CL-B21). Message.HeldFor is set with it.
	FlagHoldsResources Flags = 1 << 0
	// FlagResourcesFailed: a service failed to start on the sender, which
	// asks the peer to take over (CL-B14).
	FlagResourcesFailed Flags = 1 << 1
	// FlagReleasing: the sender is stopping the resources; it keeps
	// FlagHoldsResources until they are stopped. A slow stop is then not
	// taken for a split brain that persists (CL-B21).
	FlagReleasing Flags = 1 << 2
	// FlagStandby: the operator put the sender in standby (hb_standby):
	// it declines the resources while the peer can serve.
	FlagStandby Flags = 1 << 3
	// FlagTakeover: the operator asked for the resources on the sender
	// (hb_takeover): the peer hands them over.
	FlagTakeover Flags = 1 << 4
	// FlagDemoted: a bus consumer on the sender is not ready to serve
	// (ARCHITECTURE.md, demotion): it does not take the resources from a
	// healthy peer.
	FlagDemoted Flags = 1 << 5
	// FlagMonitorsPending: at least one of the sender's monitors has not
	// answered yet (nor been declared unreachable); MonitorsReachable
	// counts it. A node does not fail back to a sender with this flag: its
	// uplink is not verified.
	FlagMonitorsPending Flags = 1 << 6

	// KnownFlags are the bits this version defines. Bits 2..6 came after
	// the first release of version 1, in bits it reserved: a receiver
	// that does not know them ignores them, which is what it did before.
	KnownFlags = FlagHoldsResources | FlagResourcesFailed | FlagReleasing | FlagStandby | FlagTakeover | FlagDemoted | FlagMonitorsPending
)

// Has reports whether every bit of f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

var flagNames = [...]string{"holds", "failed", "releasing", "standby", "takeover", "demoted", "monitors-pending"}

// String lists the set bits by name ("holds|releasing"), unknown ones as
// hexadecimal, "none" for no bit.
func (f Flags) String() string {
	if f == 0 {
		return "none"
	}
	var parts []string
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := f &^ KnownFlags; rest != 0 {
		parts = append(parts, fmt.Sprintf("%#04x", uint16(rest)))
	}
	return strings.Join(parts, "|")
}

// UID is a node's persistent unique id (spec §5, after ICS CUBE's Nuid):
// random, created once and kept in the state directory, so that two hosts
// using one node name, or a re-installed node, can be told apart.
type UID [16]byte

// BootID is random per process start; with the sequence number it makes
// every message of a node unique (the replay window is per UID and boot).
type BootID [16]byte

// Message is one decoded heartbeat.
type Message struct {
	Type  Type
	Flags Flags
	Role  Role
	// Group is the cluster group name, [A-Za-z0-9_.-]{1,64} (CL-C03).
	Group string
	// Node is the sender's node name (--node-name): 1 to 255 octets of
	// UTF-8 without control characters.
	Node   string
	UID    UID
	BootID BootID
	// Seq numbers the messages of one boot, strictly increasing; Sealer
	// assigns it.
	Seq uint64
	// HeldFor is how long the sender has held the resources when it sent
	// the message, in whole milliseconds, measured on its monotonic clock;
	// zero unless FlagHoldsResources. A duration, not a time of day, so
	// that clock skew between the nodes cannot decide a split brain
	// (CL-B21); see docs/clusterd-wire.md.
	HeldFor time.Duration
	// MonitorsReachable of MonitorsTotal monitor nodes are not known to be
	// unreachable from the sender (CL-B06, CL-B11): those answering its
	// pings, and those not verified yet (FlagMonitorsPending).
	MonitorsReachable, MonitorsTotal uint16
	// ConfigHash is the sender's hash of the group configuration; a
	// mismatch is a warning in status (CL-B06).
	ConfigHash [32]byte
	// Interface is the name of the sender's interface the message left
	// through, for per-link liveness.
	Interface string
}

const (
	// headerLen is the fixed part, up to the group name.
	headerLen = 94
	// MACLen is the length of the HMAC-SHA256 trailer.
	MACLen = sha256.Size
	// MinLen and MaxLen bound a well-formed message: three strings of 1
	// octet, or of their maximum lengths.
	MinLen = headerLen + 3*(1+1) + MACLen
	MaxLen = headerLen + (1 + MaxGroupLen) + (1 + MaxNodeLen) + (1 + MaxInterfaceLen) + MACLen

	MaxGroupLen     = 64
	MaxNodeLen      = 255
	MaxInterfaceLen = 15 // IFNAMSIZ - 1
)

// maxHeldForMs is the largest HeldFor a time.Duration can hold.
const maxHeldForMs = math.MaxInt64 / int64(time.Millisecond)

// Marshal encodes m and appends its MAC under key. It rejects a message a
// receiver would drop as malformed, naming the field.
func Marshal(m Message, key Key) ([]byte, error) {
	if err := key.check(); err != nil {
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("wire: marshal heartbeat: %w", err)
	}
	b := make([]byte, headerLen, headerLen+3+len(m.Group)+len(m.Node)+len(m.Interface)+MACLen)
	copy(b[0:4], Magic[:])
	b[4] = Version
	b[5] = byte(m.Type)
	binary.BigEndian.PutUint16(b[6:8], uint16(m.Flags))
	b[8] = byte(m.Role)
	b[9] = 0
	binary.BigEndian.PutUint16(b[10:12], m.MonitorsReachable)
	binary.BigEndian.PutUint16(b[12:14], m.MonitorsTotal)
	copy(b[14:30], m.UID[:])
	copy(b[30:46], m.BootID[:])
	binary.BigEndian.PutUint64(b[46:54], m.Seq)
	binary.BigEndian.PutUint64(b[54:62], uint64(m.HeldFor/time.Millisecond))
	copy(b[62:94], m.ConfigHash[:])
	for _, s := range []string{m.Group, m.Node, m.Interface} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return append(b, key.mac(b)...), nil
}

// validate checks what decode checks, so that Marshal never produces a
// message Unmarshal rejects.
func (m Message) validate() error {
	switch {
	case m.Type != TypeHeartbeat && m.Type != TypeLeaving:
		return fmt.Errorf("message type %d: use TypeHeartbeat or TypeLeaving", m.Type)
	case m.Role != RolePrimary && m.Role != RoleSecondary:
		return fmt.Errorf("role %d: use RolePrimary or RoleSecondary", m.Role)
	case m.MonitorsReachable > m.MonitorsTotal:
		return fmt.Errorf("%d of %d monitors reachable: cannot reach more than there are", m.MonitorsReachable, m.MonitorsTotal)
	case m.HeldFor < 0:
		return fmt.Errorf("held for %v: must not be negative", m.HeldFor)
	case m.HeldFor != 0 && !m.Flags.Has(FlagHoldsResources):
		return fmt.Errorf("held for %v without FlagHoldsResources: set the flag or zero the duration", m.HeldFor)
	}
	if err := checkGroup(m.Group); err != nil {
		return err
	}
	if err := checkName("node name", m.Node, MaxNodeLen); err != nil {
		return err
	}
	return checkInterface(m.Interface)
}

func checkGroup(s string) error {
	if len(s) == 0 || len(s) > MaxGroupLen {
		return fmt.Errorf("group name of %d octets: use 1 to %d", len(s), MaxGroupLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("group name %q: octet %d (%#02x) is not one of A-Z a-z 0-9 _ . -", s, i, c)
		}
	}
	return nil
}

func checkName(what, s string, maxLen int) error {
	if len(s) == 0 || len(s) > maxLen {
		return fmt.Errorf("%s of %d octets: use 1 to %d", what, len(s), maxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q: not UTF-8", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%s %q: holds control character %U", what, s, r)
		}
	}
	return nil
}

// checkInterface applies the kernel's rule for device names
// (dev_valid_name): no '/', ':' or white space, not "." or "..".
func checkInterface(s string) error {
	if err := checkName("interface name", s, MaxInterfaceLen); err != nil {
		return err
	}
	if s == "." || s == ".." {
		return fmt.Errorf("interface name %q: not a device name", s)
	}
	for _, r := range s {
		if r == '/' || r == ':' || r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' {
			return fmt.Errorf("interface name %q: holds %q, which device names cannot", s, r)
		}
	}
	return nil
}

// decoded is a message whose structure is sound, before its MAC is checked.
type decoded struct {
	msg Message
	// signed is the part the MAC covers, mac the MAC as received.
	signed, mac []byte
}

// decode checks everything but the MAC.
func decode(b []byte) (decoded, error) {
	if len(b) < 5 {
		return decoded{}, drop(DropMalformed, "%d octets: shorter than magic and version", len(b))
	}
	if [4]byte(b[0:4]) != Magic {
		return decoded{}, drop(DropNotHeartbeat, "magic %x: not a clusterd heartbeat (want %x)", b[0:4], Magic[:])
	}
	if b[4] != Version {
		return decoded{}, drop(DropVersion, "version %d: this node speaks version %d only (upgrade the older node)", b[4], Version)
	}
	if len(b) < MinLen {
		return decoded{}, drop(DropMalformed, "%d octets: a version %d heartbeat has at least %d", len(b), Version, MinLen)
	}
	if len(b) > MaxLen {
		return decoded{}, drop(DropMalformed, "%d octets: a version %d heartbeat has at most %d", len(b), Version, MaxLen)
	}
	var m Message
	m.Type = Type(b[5])
	m.Flags = Flags(binary.BigEndian.Uint16(b[6:8]))
	m.Role = Role(b[8])
	m.MonitorsReachable = binary.BigEndian.Uint16(b[10:12])
	m.MonitorsTotal = binary.BigEndian.Uint16(b[12:14])
	copy(m.UID[:], b[14:30])
	copy(m.BootID[:], b[30:46])
	m.Seq = binary.BigEndian.Uint64(b[46:54])
	heldMs := binary.BigEndian.Uint64(b[54:62])
	copy(m.ConfigHash[:], b[62:94])
	if b[9] != 0 {
		return decoded{}, drop(DropMalformed, "reserved octet 9 is %#02x, want 0", b[9])
	}
	if heldMs > uint64(maxHeldForMs) {
		return decoded{}, drop(DropMalformed, "held for %d ms: beyond what a duration holds", heldMs)
	}
	m.HeldFor = time.Duration(heldMs) * time.Millisecond

	body := b[:len(b)-MACLen]
	rest := body[headerLen:]
	var strs [3]string
	for i, what := range [3]string{"group name", "node name", "interface name"} {
		if len(rest) == 0 {
			return decoded{}, drop(DropMalformed, "ends before the %s", what)
		}
		n := int(rest[0])
		if len(rest) < 1+n {
			return decoded{}, drop(DropMalformed, "%s of %d octets overruns the message (%d left before the MAC)", what, n, len(rest)-1)
		}
		strs[i] = string(rest[1 : 1+n])
		rest = rest[1+n:]
	}
	if len(rest) != 0 {
		return decoded{}, drop(DropMalformed, "%d octets between the interface name and the MAC", len(rest))
	}
	m.Group, m.Node, m.Interface = strs[0], strs[1], strs[2]
	if err := m.validate(); err != nil {
		return decoded{}, drop(DropMalformed, "%v", err)
	}
	return decoded{msg: m, signed: body, mac: b[len(body):]}, nil
}

// Unmarshal decodes a heartbeat and checks its MAC under key. It returns a
// message only if the MAC is right; every error is a *DropError.
//
// Unmarshal does not check the group, the sender or the replay window:
// Verifier.Check does, and is what a receiver calls.
func Unmarshal(b []byte, key Key) (Message, error) {
	if err := key.check(); err != nil {
		return Message{}, err
	}
	d, err := decode(b)
	if err != nil {
		return Message{}, err
	}
	if !hmac.Equal(d.mac, key.mac(d.signed)) {
		return Message{}, drop(DropBadMAC, "MAC does not match (pre-shared-secret or group differ from this node's?)")
	}
	return d.msg, nil
}

// ErrNoKey is returned for a zero Key: one that DeriveKey did not make.
var ErrNoKey = errors.New("wire: no MAC key: derive one from the pre-shared-secret with DeriveKey")
