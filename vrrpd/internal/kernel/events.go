package kernel

import (
	"context"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// eventBuffer absorbs bursts (a bond losing all its slaves, a reload adding
// many VIPs) so the kernel does not drop notifications while the engine is
// busy.
const eventBuffer = 256

// Subscribe implements Kernel. The channel also closes when the kernel ends
// a subscription (the socket overflowed, say): the error is logged and the
// engine should subscribe again and re-read the state it cares about,
// since events may have been lost.
func (n *Netlink) Subscribe(ctx context.Context) (<-chan Event, error) {
	var ns *netns.NsHandle
	if n.ns.IsOpen() {
		ns = &n.ns
	}
	done := make(chan struct{})
	logError := func(err error) {
		select {
		case <-done: // our own close ends the receive loop with an error
		default:
			n.log.Warn("netlink subscription failed; events may be lost", "err", err)
		}
	}
	links := make(chan netlink.LinkUpdate, eventBuffer)
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: ns, ErrorCallback: logError}); err != nil {
		close(done)
		return nil, fmt.Errorf("subscribe to link events: %w", err)
	}
	addrs := make(chan netlink.AddrUpdate, eventBuffer)
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: ns, ErrorCallback: logError}); err != nil {
		close(done)
		return nil, fmt.Errorf("subscribe to address events: %w", err)
	}
	out := make(chan Event, eventBuffer)
	go n.forward(ctx, done, links, addrs, out)
	return out, nil
}

// forward translates updates until ctx ends or a subscription closes, then
// drains both so netlink's goroutines can exit.
func (n *Netlink) forward(ctx context.Context, done chan struct{}, links <-chan netlink.LinkUpdate, addrs <-chan netlink.AddrUpdate, out chan<- Event) {
	defer close(out)
	defer func() {
		close(done)
		for range links {
		}
		for range addrs {
		}
	}()
	// Address updates carry only an index; a removal after its link is
	// gone can no longer be looked up, so names are remembered.
	names := map[int]string{}
	for {
		var ev Event
		select {
		case <-ctx.Done():
			return
		case u, ok := <-links:
			if !ok {
				return
			}
			attrs := u.Attrs()
			ev = Event{Kind: linkKind(u), Interface: attrs.Name}
			if ev.Kind == LinkGone {
				delete(names, attrs.Index)
			} else {
				names[attrs.Index] = attrs.Name
			}
		case u, ok := <-addrs:
			if !ok {
				return
			}
			name, known := names[u.LinkIndex]
			if !known {
				l, err := n.h.LinkByIndex(u.LinkIndex)
				if err != nil {
					continue // the link went first; its LinkGone says it all
				}
				name = l.Attrs().Name
				names[u.LinkIndex] = name
			}
			ev = Event{Kind: AddressRemoved, Interface: name, Address: prefix(&u.LinkAddress)}
			if u.NewAddr {
				ev.Kind = AddressAdded
			}
		}
		select {
		case out <- ev:
		case <-ctx.Done():
			return
		}
	}
}

func linkKind(u netlink.LinkUpdate) EventKind {
	if u.Header.Type == unix.RTM_DELLINK {
		return LinkGone
	}
	attrs := u.Attrs()
	if attrs.Flags&net.FlagUp != 0 && attrs.RawFlags&unix.IFF_RUNNING != 0 {
		return LinkUp
	}
	return LinkDown
}
