package kernel

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The ingress copy is an ingress qdisc on the VRRP interface with one u32
// filter matching every frame (`match u32 0 0`, protocol all) whose mirred
// actions copy (egress mirror, then pipe on) and/or redirect (egress
// redirect, stolen) the frame. u32 rather than matchall: matchall is a
// module some kernels lack, u32 is everywhere tc is. The filter's priority
// (IngressCopyPriority) is the mark; the qdisc is shared with whatever
// else an operator hangs there, and removed only when it holds no filter.

// ingressParent is the ingress qdisc's handle, ffff:, which its filters
// name as their parent.
var ingressParent = netlink.MakeHandle(0xffff, 0)

// SetIngressCopy implements Kernel.
func (n *Netlink) SetIngressCopy(_ context.Context, ifname string, c IngressCopy) error {
	n.vmacMu.Lock()
	defer n.vmacMu.Unlock()
	l, err := n.link(ifname)
	if err != nil {
		return fmt.Errorf("copy the inbound traffic of %s: %w", ifname, err)
	}
	if !ours(l) {
		return fmt.Errorf("refusing to copy the inbound traffic of %s: vrrpd did not create it (its alias lacks %q)", ifname, AliasMark)
	}
	// What cannot be resolved is reported, the rest applied: a missing ifb
	// must not keep the mirror from working, nor leave a stale target.
	var errs []error
	var actions []netlink.Action
	if c.Mirror != "" {
		if target, err := n.copyTarget(ifname, c.Mirror, false); err != nil {
			errs = append(errs, err)
		} else {
			a := netlink.NewMirredAction(target.Attrs().Index)
			a.MirredAction, a.Action = netlink.TCA_EGRESS_MIRROR, netlink.TC_ACT_PIPE
			actions = append(actions, a)
		}
	}
	if c.Redirect != "" {
		if target, err := n.copyTarget(ifname, c.Redirect, true); err != nil {
			errs = append(errs, err)
		} else {
			actions = append(actions, netlink.NewMirredAction(target.Attrs().Index)) // egress redirect, stolen
		}
	}
	current, err := n.copyFilters(l)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(current) == 1 && sameActions(current[0].Actions, actions) {
		return errors.Join(errs...)
	}
	if len(current) > 0 {
		if err := n.h.FilterDel(copyFilter(l, nil)); err != nil && !errors.Is(err, unix.ENOENT) {
			return errors.Join(append(errs, fmt.Errorf("remove the old inbound traffic copy of %s: %w", ifname, err))...)
		}
	}
	if len(actions) == 0 {
		return errors.Join(append(errs, n.removeIngressIfEmpty(l))...)
	}
	if err := n.ensureIngress(l); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := n.h.FilterAdd(copyFilter(l, actions)); err != nil {
		errs = append(errs, fmt.Errorf("copy the inbound traffic of %s (tc u32 filter with mirred): %w", ifname, err))
	}
	return errors.Join(errs...)
}

// copyTarget looks up the interface traffic is mirrored or redirected to.
func (n *Netlink) copyTarget(ifname, target string, redirect bool) (netlink.Link, error) {
	what := "mirror"
	if redirect {
		what = "redirect"
	}
	l, err := n.link(target)
	switch {
	case errors.Is(err, ErrNoInterface) && redirect:
		return nil, fmt.Errorf("%s target of %s: %w: create it first: ip link add %s type ifb && ip link set %s up", what, ifname, err, target, target)
	case errors.Is(err, ErrNoInterface):
		return nil, fmt.Errorf("%s target of %s: %w: create it or fix the configuration", what, ifname, err)
	case err != nil:
		return nil, err
	case redirect && l.Type() != "ifb":
		return nil, fmt.Errorf("redirect target of %s: %s is a %s interface, not an ifb: redirect to an ifb (ip link add ifb0 type ifb) or use mirror", ifname, target, l.Type())
	case l.Attrs().Name == ifname:
		return nil, fmt.Errorf("%s target of %s: an interface cannot copy its traffic to itself", what, ifname)
	}
	return l, nil
}

func copyFilter(l netlink.Link, actions []netlink.Action) *netlink.U32 {
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: l.Attrs().Index,
			Parent:    ingressParent,
			Priority:  IngressCopyPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		// A nil selector is `match u32 0 0`: every frame.
		Actions: actions,
	}
}

// copyFilters lists the u32 filters with our mark on l's ingress; none
// when l has no ingress qdisc.
func (n *Netlink) copyFilters(l netlink.Link) ([]*netlink.U32, error) {
	has, err := n.hasIngress(l)
	if err != nil || !has {
		return nil, err
	}
	filters, err := n.h.FilterList(l, ingressParent)
	if err != nil {
		return nil, fmt.Errorf("list the ingress filters of %s: %w", l.Attrs().Name, err)
	}
	var ours []*netlink.U32
	for _, f := range filters {
		if u, ok := f.(*netlink.U32); ok && f.Attrs().Priority == IngressCopyPriority {
			ours = append(ours, u)
		}
	}
	return ours, nil
}

func sameActions(have, want []netlink.Action) bool {
	return slices.EqualFunc(have, want, func(h, w netlink.Action) bool {
		hm, ok1 := h.(*netlink.MirredAction)
		wm, ok2 := w.(*netlink.MirredAction)
		return ok1 && ok2 && hm.MirredAction == wm.MirredAction && hm.Ifindex == wm.Ifindex && hm.Action == wm.Action
	})
}

func (n *Netlink) hasIngress(l netlink.Link) (bool, error) {
	qdiscs, err := n.h.QdiscList(l)
	if err != nil {
		return false, fmt.Errorf("list the qdiscs of %s: %w", l.Attrs().Name, err)
	}
	for _, q := range qdiscs {
		if q.Attrs().Parent == netlink.HANDLE_INGRESS {
			return true, nil
		}
	}
	return false, nil
}

func ingressQdisc(l netlink.Link) *netlink.Ingress {
	return &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: ingressParent, Parent: netlink.HANDLE_INGRESS}}
}

func (n *Netlink) ensureIngress(l netlink.Link) error {
	has, err := n.hasIngress(l)
	if err != nil || has {
		return err
	}
	if err := n.h.QdiscAdd(ingressQdisc(l)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add an ingress qdisc to %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// removeIngressIfEmpty deletes l's ingress qdisc once no filter is left on
// it, ours or an operator's.
func (n *Netlink) removeIngressIfEmpty(l netlink.Link) error {
	has, err := n.hasIngress(l)
	if err != nil || !has {
		return err
	}
	filters, err := n.h.FilterList(l, ingressParent)
	if err != nil {
		return fmt.Errorf("list the ingress filters of %s: %w", l.Attrs().Name, err)
	}
	if len(filters) > 0 {
		return nil
	}
	if err := n.h.QdiscDel(ingressQdisc(l)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("remove the ingress qdisc of %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// ingressCopyOf reads back the copy SetIngressCopy installed on l; names
// maps interface indexes to names. A target that is gone reads as its
// index, so the copy still shows (and differs from any wanted one).
func (n *Netlink) ingressCopyOf(l netlink.Link, names map[int]string) (IngressCopy, error) {
	filters, err := n.copyFilters(l)
	if err != nil || len(filters) == 0 {
		return IngressCopy{}, err
	}
	var c IngressCopy
	for _, f := range filters {
		for _, a := range f.Actions {
			m, ok := a.(*netlink.MirredAction)
			if !ok {
				continue
			}
			name, known := names[m.Ifindex]
			if !known {
				name = fmt.Sprintf("if%d", m.Ifindex)
			}
			switch m.MirredAction {
			case netlink.TCA_EGRESS_MIRROR:
				c.Mirror = name
			case netlink.TCA_EGRESS_REDIR:
				c.Redirect = name
			}
		}
	}
	return c, nil
}
