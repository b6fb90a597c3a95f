package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
)

// NewUID returns a random node UID, to be created once and stored.
func NewUID() UID {
	var u UID
	rand.Read(u[:])
	return u
}

// NewBootID returns a random boot id, one per process start.
func NewBootID() BootID {
	var b BootID
	rand.Read(b[:])
	return b
}

func (u UID) String() string    { return hex.EncodeToString(u[:]) }
func (b BootID) String() string { return hex.EncodeToString(b[:]) }

// ParseUID reads a UID as String writes it: 32 hexadecimal digits.
func ParseUID(s string) (UID, error) {
	var u UID
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != len(u) {
		return UID{}, fmt.Errorf("wire: node UID %q: want %d hexadecimal digits", s, 2*len(u))
	}
	copy(u[:], raw)
	return u, nil
}

// Sealer marshals the messages of one node's boot: it fills in the group
// and the node's identity and gives every message the next sequence number,
// starting at 1. It is safe for concurrent use.
type Sealer struct {
	key    Key
	group  string
	node   string
	uid    UID
	bootID BootID

	mu  sync.Mutex
	seq uint64
}

// NewSealer returns the sealer of node (name and UID) for group, in the
// boot bootID, signing with key.
func NewSealer(key Key, group, node string, uid UID, bootID BootID) (*Sealer, error) {
	if err := key.check(); err != nil {
		return nil, err
	}
	if err := checkGroup(group); err != nil {
		return nil, fmt.Errorf("wire: sealer: %w", err)
	}
	if err := checkName("node name", node, MaxNodeLen); err != nil {
		return nil, fmt.Errorf("wire: sealer: %w", err)
	}
	return &Sealer{key: key, group: group, node: node, uid: uid, bootID: bootID}, nil
}

// Seal marshals m with the sealer's group, node, UID, boot id and the next
// sequence number, whatever m holds in those fields. A message Marshal
// rejects consumes no number.
func (s *Sealer) Seal(m Message) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Group, m.Node, m.UID, m.BootID, m.Seq = s.group, s.node, s.uid, s.bootID, s.seq+1
	b, err := Marshal(m, s.key)
	if err != nil {
		return nil, err
	}
	s.seq++
	return b, nil
}

// Rekey makes later messages carry MACs under key (a reload changed the
// pre-shared-secret) and keeps numbering where it was: a new key is no new
// boot, and restarting at 1 would make the peer's replay window drop every
// message until the numbers caught up.
func (s *Sealer) Rekey(key Key) error {
	if err := key.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
	return nil
}

// Seq is the sequence number of the last message sealed, 0 before the first.
func (s *Sealer) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}
