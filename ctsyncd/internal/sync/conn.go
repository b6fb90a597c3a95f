package sync

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// DefaultGroup is the multicast group of the sync channel (CS-Q01:
// conntrackd's 225.0.0.50, not the guide's typo 255.0.0.50).
var DefaultGroup = netip.MustParseAddr("225.0.0.50")

// ConnConfig says where sync datagrams go.
type ConnConfig struct {
	// Interface is the sync interface (CS-C08): the socket is bound to it,
	// joins the group there and sends only through it.
	Interface string
	// Group is the multicast group; the zero Addr means DefaultGroup.
	Group netip.Addr
	// Peer, when valid, switches to unicast: datagrams go to Peer and no
	// group is joined (`peer ADDR`, issue 5).
	Peer netip.Addr
	// Port is sent to and listened on; 0 means wire.Port.
	Port uint16
	// BufferBytes sizes SO_SNDBUF and SO_RCVBUF (sync-queue-size, CS-C10);
	// 0 means DefaultQueueBytes.
	BufferBytes int
}

func (c ConnConfig) withDefaults() (ConnConfig, error) {
	if c.Interface == "" {
		return c, errors.New("sync: no sync interface: configure `interface` in service conntrack-sync")
	}
	if !c.Group.IsValid() {
		c.Group = DefaultGroup
	}
	if !c.Group.Is4() || !c.Group.IsMulticast() {
		return c, fmt.Errorf("sync: mcast-group %s is not an IPv4 multicast address (224.0.0.0/4)", c.Group)
	}
	if c.Peer.IsValid() && (!c.Peer.Is4() || c.Peer.IsMulticast() || c.Peer.IsUnspecified()) {
		return c, fmt.Errorf("sync: peer %s is not an IPv4 unicast address", c.Peer)
	}
	if c.Port == 0 {
		c.Port = wire.Port
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = DefaultQueueBytes
	}
	return c, nil
}

// Dest is where datagrams are sent: the group or the unicast peer.
func (c ConnConfig) Dest() netip.AddrPort {
	if c.Peer.IsValid() {
		return netip.AddrPortFrom(c.Peer, c.Port)
	}
	return netip.AddrPortFrom(c.Group, c.Port)
}

// Sender sends one datagram; *UDPConn is one.
type Sender interface {
	Send(b []byte) error
}

// Transmit marshals and sends every message of the session's outbox,
// counting bytes, packets and errors; it returns the first error. A
// message the codec refuses is a bug of the session, counted as a send
// error.
func (s *Session) Transmit(codec Codec, conn Sender) error {
	var first error
	for _, m := range s.Outbox() {
		b, err := codec.Marshal(m)
		if err == nil {
			err = conn.Send(b)
		}
		s.NoteSent(m, len(b), err)
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Deliver decodes one received datagram and handles it, counting it
// (malformed ones by reason, CS-B21). It returns the codec's error for the
// log, nil when the datagram was good.
func (s *Session) Deliver(now time.Time, codec Codec, b []byte) error {
	m, err := codec.Unmarshal(b)
	if err != nil {
		r := wire.ReasonOf(err)
		if r == wire.DropNone {
			r = wire.DropBadField // a codec error without reason: still malformed
		}
		s.NoteReceived(nil, len(b), r)
		return err
	}
	s.NoteReceived(m, len(b), wire.DropNone)
	s.Handle(now, m)
	return nil
}
