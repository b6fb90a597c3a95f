package wire

import (
	"crypto/hmac"
	"fmt"
	"slices"
	"sync"
)

// ReplayWindow is how far behind the highest sequence number seen from a
// boot a message may arrive and still be accepted once. A round of
// heartbeats on two links takes two numbers, so this is 32 rounds of
// reordering, far more than a LAN ever shows.
const ReplayWindow = 64

const (
	// maxSenders bounds the replay state: only authentic messages under the
	// peer's name create any, so more than one or two UIDs means a
	// re-installed or cloned peer; the least recently heard are forgotten.
	maxSenders = 8
	// maxRetiredBoots is how many ended boots of a UID are remembered and
	// refused.
	maxRetiredBoots = 8
)

// VerifierConfig is what a node accepts heartbeats for.
type VerifierConfig struct {
	Key Key
	// Group is the configured group name.
	Group string
	// Self is this node's name and UID; Peer the other member's name.
	Self    string
	SelfUID UID
	Peer    string
}

func (c VerifierConfig) check() error {
	if err := c.Key.check(); err != nil {
		return err
	}
	if err := checkGroup(c.Group); err != nil {
		return fmt.Errorf("wire: verifier: %w", err)
	}
	if c.Self == "" || c.Peer == "" || c.Self == c.Peer {
		return fmt.Errorf("wire: verifier: self %q and peer %q: name two different nodes", c.Self, c.Peer)
	}
	return nil
}

// Accepted is a heartbeat that passed every check, with what the receiver
// learnt about its sender on the way.
type Accepted struct {
	Message
	// NewBoot: the first message of this boot of the sender: it has just
	// started, or is heard for the first time since this node started.
	NewBoot bool
	// UIDChanged: the peer's name came with PreviousUID before: the peer
	// was re-installed, or two hosts use its name (then this flips back
	// and forth). Worth a log line.
	UIDChanged  bool
	PreviousUID UID
	// SameUIDAsSelf: the peer uses this node's UID: one node's state
	// directory was copied to the other (a cloned VM). Still accepted, as
	// dropping it would make both nodes take the resources; worth a
	// warning telling the admin to delete the UID file on one of them.
	SameUIDAsSelf bool
}

// Verifier checks received heartbeats: structure, group, MAC, sender,
// replay window; see the package documentation for the order. It keeps a
// replay window per (UID, boot id) and counts drops. It is safe for
// concurrent use.
type Verifier struct {
	mu      sync.Mutex
	cfg     VerifierConfig
	senders map[UID]*sender
	peerUID UID
	heard   bool // peerUID is set
	tick    uint64
	drops   DropCounts
}

// sender is the replay state of one UID.
type sender struct {
	boot    BootID
	highest uint64
	// seen has bit i set when highest-i was accepted.
	seen     uint64
	retired  []BootID
	lastUsed uint64
}

// NewVerifier returns a verifier for cfg with no sender heard yet.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, senders: map[UID]*sender{}}, nil
}

// Reconfigure applies a new configuration (a reload), keeping the replay
// state, so that a reload opens no window for replays. The counters stay.
func (v *Verifier) Reconfigure(cfg VerifierConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cfg = cfg
	return nil
}

// Check decodes and checks one received datagram. An error is a
// *DropError, already counted.
func (v *Verifier) Check(b []byte) (Accepted, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a, err := v.check(b)
	if err != nil {
		v.drops[ReasonOf(err)]++
	}
	return a, err
}

func (v *Verifier) check(b []byte) (Accepted, error) {
	d, err := decode(b)
	if err != nil {
		return Accepted{}, err
	}
	m := d.msg
	if m.Group != v.cfg.Group {
		return Accepted{}, drop(DropUnknownGroup, "group %q from node %q: this node is in group %q", m.Group, m.Node, v.cfg.Group)
	}
	if !hmac.Equal(d.mac, v.cfg.Key.mac(d.signed)) {
		return Accepted{}, drop(DropBadMAC, "claimed node %q: MAC does not match (is the pre-shared-secret the same on both nodes?)", m.Node)
	}
	switch {
	case m.Node == v.cfg.Self && m.UID == v.cfg.SelfUID:
		return Accepted{}, drop(DropOwnMessage, "this node's own message (sent on %s), looped back", m.Interface)
	case m.Node == v.cfg.Self:
		return Accepted{}, drop(DropDuplicateName, "node UID %s also calls itself %q, this node's name: give one of the two hosts another --node-name", m.UID, m.Node)
	case m.Node != v.cfg.Peer:
		return Accepted{}, drop(DropUnknownNode, "node %q is not this group's other member %q (check primary and secondary on both nodes)", m.Node, v.cfg.Peer)
	}
	newBoot, err := v.admit(m)
	if err != nil {
		return Accepted{}, err
	}
	a := Accepted{Message: m, NewBoot: newBoot, SameUIDAsSelf: m.UID == v.cfg.SelfUID}
	if v.heard && v.peerUID != m.UID {
		a.UIDChanged, a.PreviousUID = true, v.peerUID
	}
	v.peerUID, v.heard = m.UID, true
	return a, nil
}

// admit applies the replay window of m's UID and boot, recording m if it
// passes; newBoot reports the first message of a boot.
func (v *Verifier) admit(m Message) (newBoot bool, err error) {
	v.tick++
	s, ok := v.senders[m.UID]
	if !ok {
		v.evictIfFull()
		s = &sender{boot: m.BootID, highest: m.Seq, seen: 1, lastUsed: v.tick}
		v.senders[m.UID] = s
		return true, nil
	}
	s.lastUsed = v.tick
	if m.BootID != s.boot {
		if slices.Contains(s.retired, m.BootID) {
			return false, drop(DropReplay, "node %q seq %d: boot %s ended, %s is current", m.Node, m.Seq, m.BootID, s.boot)
		}
		s.retired = append(s.retired, s.boot)
		if len(s.retired) > maxRetiredBoots {
			s.retired = s.retired[1:]
		}
		s.boot, s.highest, s.seen = m.BootID, m.Seq, 1
		return true, nil
	}
	if m.Seq > s.highest {
		if shift := m.Seq - s.highest; shift < ReplayWindow {
			s.seen = s.seen<<shift | 1
		} else {
			s.seen = 1
		}
		s.highest = m.Seq
		return false, nil
	}
	behind := s.highest - m.Seq
	if behind >= ReplayWindow {
		return false, drop(DropReplay, "node %q seq %d: %d behind the highest seen (%d), beyond the window of %d", m.Node, m.Seq, behind, s.highest, ReplayWindow)
	}
	if s.seen&(1<<behind) != 0 {
		return false, drop(DropReplay, "node %q seq %d: already seen", m.Node, m.Seq)
	}
	s.seen |= 1 << behind
	return false, nil
}

func (v *Verifier) evictIfFull() {
	if len(v.senders) < maxSenders {
		return
	}
	var oldest UID
	first := true
	for uid, s := range v.senders {
		if first || s.lastUsed < v.senders[oldest].lastUsed {
			oldest, first = uid, false
		}
	}
	delete(v.senders, oldest)
}

// Drops returns the drop counters.
func (v *Verifier) Drops() DropCounts {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.drops
}
