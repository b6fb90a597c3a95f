package kernel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// Fake is a Kernel in memory with the real one's rules: parents must exist,
// a name taken by an interface that is not ours is refused, a VRRP
// interface is running only while its parent is, and deleting an interface
// takes its addresses and VRRP interfaces with it. Tests set up parents
// with AddInterface and pull cables with SetRunning. Its String is the
// Render of everything it holds. Safe for concurrent use.
type Fake struct {
	mu        sync.Mutex
	nextIndex int
	links     map[string]*fakeLink
	watchers  []chan Event
}

type fakeLink struct {
	index       int
	mac         net.HardwareAddr
	parent      string // empty for a plain interface
	description string
	running     bool // carrier; for a VRRP interface, its parent's
	addrs       []netip.Prefix
	mtu         int // 0 reads as 1500, the kernel's default
	stats       LinkStats
	ifb         bool        // an ifb interface (AddIFB)
	copy        IngressCopy // a VRRP interface's, as SetIngressCopy left it
	backupDrop  bool        // a VRRP interface's, as SetBackupDrop left it
}

var _ Kernel = (*Fake)(nil)

// NewFake returns a kernel without interfaces.
func NewFake() *Fake { return &Fake{links: map[string]*fakeLink{}} }

// AddInterface adds an interface that is not ours (a parent), up and
// running, with addrs in kernel order (the first IPv4 one is primary).
func (f *Fake) AddInterface(name string, mac net.HardwareAddr, addrs ...netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextIndex++
	f.links[name] = &fakeLink{index: f.nextIndex, mac: mac, running: true, addrs: slices.Clone(addrs)}
	f.emit(Event{Kind: LinkUp, Interface: name})
}

// AddIFB adds an ifb interface, the only kind SetIngressCopy redirects to.
func (f *Fake) AddIFB(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextIndex++
	f.links[name] = &fakeLink{index: f.nextIndex, mac: net.HardwareAddr{0x02, 0, 0, 0, 0xff, byte(f.nextIndex)}, running: true, ifb: true}
	f.emit(Event{Kind: LinkUp, Interface: name})
}

// SetRunning gives or takes a plain interface's carrier; its VRRP
// interfaces follow, as macvlans do.
func (f *Fake) SetRunning(name string, running bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	}
	kind := LinkDown
	if running {
		kind = LinkUp
	}
	l.running = running
	f.emit(Event{Kind: kind, Interface: name})
	for _, child := range f.children(name) {
		f.links[child].running = running
		f.emit(Event{Kind: kind, Interface: child})
	}
	return nil
}

// DeleteInterface removes an interface, as a user or a driver would.
func (f *Fake) DeleteInterface(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[name]; !ok {
		return fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	}
	f.remove(name)
	return nil
}

func (f *Fake) children(parent string) []string {
	var names []string
	for name, l := range f.links {
		if l.parent == parent {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (f *Fake) remove(name string) {
	for _, child := range f.children(name) {
		f.remove(child)
	}
	for _, a := range f.links[name].addrs {
		f.emit(Event{Kind: AddressRemoved, Interface: name, Address: a})
	}
	delete(f.links, name)
	f.emit(Event{Kind: LinkGone, Interface: name})
}

// emit hands ev to every subscriber; one that does not keep up loses
// events, as a netlink socket whose buffer overflows would.
func (f *Fake) emit(ev Event) {
	for _, w := range f.watchers {
		select {
		case w <- ev:
		default:
		}
	}
}

// EnsureVMAC implements Kernel.
func (f *Fake) EnsureVMAC(_ context.Context, v VMAC) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	parent, ok := f.links[v.Parent]
	if !ok {
		return fmt.Errorf("VRRP interface %s needs its parent: interface %s: %w", v.Name, v.Parent, ErrNoInterface)
	}
	if l, exists := f.links[v.Name]; exists {
		switch {
		case l.parent == "":
			return fmt.Errorf("interface %s exists but was not created by vrrpd", v.Name)
		case l.parent != v.Parent || l.mac.String() != v.MAC.String():
			f.remove(v.Name)
		default:
			l.description = v.Description
			return nil
		}
	}
	f.nextIndex++
	f.links[v.Name] = &fakeLink{index: f.nextIndex, mac: slices.Clone(v.MAC), parent: v.Parent, description: v.Description, running: parent.running}
	if v.LinkLocal.IsValid() {
		f.links[v.Name].addrs = []netip.Prefix{netip.PrefixFrom(v.LinkLocal, 64)}
	}
	kind := LinkDown
	if parent.running {
		kind = LinkUp
	}
	f.emit(Event{Kind: kind, Interface: v.Name})
	return nil
}

// DeleteVMAC implements Kernel.
func (f *Fake) DeleteVMAC(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return nil
	}
	if l.parent == "" {
		return fmt.Errorf("refusing to delete interface %s: vrrpd did not create it", name)
	}
	f.remove(name)
	return nil
}

// AddVIP implements Kernel.
func (f *Fake) AddVIP(_ context.Context, ifname string, vip netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[ifname]
	if !ok {
		return fmt.Errorf("add VIP %s: interface %s: %w", vip, ifname, ErrNoInterface)
	}
	if !slices.Contains(l.addrs, vip) {
		l.addrs = append(l.addrs, vip)
		f.emit(Event{Kind: AddressAdded, Interface: ifname, Address: vip})
	}
	return nil
}

// RemoveVIP implements Kernel.
func (f *Fake) RemoveVIP(_ context.Context, ifname string, vip netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[ifname]
	if !ok {
		return nil
	}
	if i := slices.Index(l.addrs, vip); i >= 0 {
		l.addrs = slices.Delete(l.addrs, i, i+1)
		f.emit(Event{Kind: AddressRemoved, Interface: ifname, Address: vip})
	}
	return nil
}

// SetIngressCopy implements Kernel.
func (f *Fake) SetIngressCopy(_ context.Context, ifname string, c IngressCopy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[ifname]
	if !ok {
		return fmt.Errorf("copy the inbound traffic of %s: interface %s: %w", ifname, ifname, ErrNoInterface)
	}
	if l.parent == "" {
		return fmt.Errorf("refusing to copy the inbound traffic of %s: vrrpd did not create it", ifname)
	}
	var errs []error
	if _, ok := f.links[c.Mirror]; c.Mirror != "" && !ok {
		errs = append(errs, fmt.Errorf("mirror target of %s: interface %s: %w: create it or fix the configuration", ifname, c.Mirror, ErrNoInterface))
		c.Mirror = ""
	}
	if t, ok := f.links[c.Redirect]; c.Redirect != "" && !ok {
		errs = append(errs, fmt.Errorf("redirect target of %s: interface %s: %w: create it first: ip link add %s type ifb && ip link set %s up",
			ifname, c.Redirect, ErrNoInterface, c.Redirect, c.Redirect))
		c.Redirect = ""
	} else if c.Redirect != "" && !t.ifb {
		errs = append(errs, fmt.Errorf("redirect target of %s: %s is not an ifb: redirect to an ifb (ip link add ifb0 type ifb) or use mirror", ifname, c.Redirect))
		c.Redirect = ""
	}
	for _, target := range []*string{&c.Mirror, &c.Redirect} {
		if *target == ifname {
			errs = append(errs, fmt.Errorf("copy target of %s: an interface cannot copy its traffic to itself", ifname))
			*target = ""
		}
	}
	l.copy = c
	return errors.Join(errs...)
}

// SetBackupDrop implements Kernel.
func (f *Fake) SetBackupDrop(_ context.Context, ifname string, drop bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[ifname]
	switch {
	case !ok && !drop:
		return nil
	case !ok:
		return fmt.Errorf("drop the inbound traffic of backup %s: interface %s: %w", ifname, ifname, ErrNoInterface)
	case l.parent == "":
		return fmt.Errorf("refusing to filter the inbound traffic of %s: vrrpd did not create it", ifname)
	}
	l.backupDrop = drop
	return nil
}

// BackupDrop reports whether SetBackupDrop left ifname dropping.
func (f *Fake) BackupDrop(ifname string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[ifname]
	return ok && l.backupDrop
}

// SetLinkStats gives an interface an MTU and counters, as traffic would.
func (f *Fake) SetLinkStats(name string, mtu int, stats LinkStats) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	}
	l.mtu, l.stats = mtu, stats
	return nil
}

// Interface implements Kernel.
func (f *Fake) Interface(_ context.Context, name string) (Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return Interface{}, fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	}
	ifc := Interface{Name: name, Index: l.index, MAC: slices.Clone(l.mac), AdminUp: true, Running: l.running, Addresses: slices.Clone(l.addrs),
		MTU: cmp.Or(l.mtu, 1500), Stats: l.stats}
	for _, a := range l.addrs {
		switch {
		case a.Addr().Is4() && !ifc.PrimaryIPv4.IsValid():
			ifc.PrimaryIPv4 = a.Addr()
		case a.Addr().Is6() && a.Addr().IsLinkLocalUnicast() && !ifc.LinkLocalIPv6.IsValid():
			ifc.LinkLocalIPv6 = a.Addr()
		}
	}
	return ifc, nil
}

// Leftovers implements Kernel.
func (f *Fake) Leftovers(context.Context) ([]VMAC, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var found []VMAC
	for name, l := range f.links {
		if l.parent != "" {
			found = append(found, VMAC{Name: name, Parent: l.parent, MAC: slices.Clone(l.mac), Description: l.description, Addresses: slices.Clone(l.addrs), Copy: l.copy, BackupDrop: l.backupDrop})
		}
	}
	slices.SortFunc(found, func(a, b VMAC) int { return f.links[a.Name].index - f.links[b.Name].index })
	return found, nil
}

// Subscribe implements Kernel.
func (f *Fake) Subscribe(ctx context.Context) (<-chan Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := make(chan Event, eventBuffer)
	f.watchers = append(f.watchers, w)
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.watchers = slices.DeleteFunc(f.watchers, func(c chan Event) bool { return c == w })
		close(w)
	}()
	return w, nil
}

// String renders the fake's whole state (see Render).
func (f *Fake) String() string {
	f.mu.Lock()
	names := make([]string, 0, len(f.links))
	for name := range f.links {
		names = append(names, name)
	}
	f.mu.Unlock()
	text, err := Render(context.Background(), f, names...)
	if err != nil {
		return "render: " + err.Error()
	}
	return text
}
