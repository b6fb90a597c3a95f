package resources

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// FakeKernel is an in-memory Kernel for tests. Its zero value is not
// usable; NewFakeKernel makes one with the given interfaces.
type FakeKernel struct {
	mu     sync.Mutex
	links  []string
	addrs  []Addr
	log    []string
	failOn map[string]error
}

var _ Kernel = (*FakeKernel)(nil)

// NewFakeKernel returns a FakeKernel whose interfaces are ifnames, with no
// addresses.
func NewFakeKernel(ifnames ...string) *FakeKernel {
	return &FakeKernel{links: ifnames, failOn: map[string]error{}}
}

// AddForeign puts an address on an interface as another program would.
func (f *FakeKernel) AddForeign(a Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a.Label == "" {
		a.Label = a.Interface
	}
	f.addrs = append(f.addrs, a)
}

// FailOn makes the operation op ("add", "del", "announce") on ip fail with
// err; a nil err clears it.
func (f *FakeKernel) FailOn(op string, ip netip.Addr, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := op + " " + ip.String()
	if err == nil {
		delete(f.failOn, key)
		return
	}
	f.failOn[key] = err
}

// Log returns the operations done so far, one line each, in order:
// "add 10.0.0.100/24 dev eth0 brd 10.0.0.255 label eth0:0", "del ...",
// "announce 10.0.0.100 dev eth0".
func (f *FakeKernel) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// String renders the addresses as `ip -4 addr` would list them, one line
// each, sorted.
func (f *FakeKernel) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines := make([]string, 0, len(f.addrs))
	for _, a := range f.addrs {
		lines = append(lines, a.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func (f *FakeKernel) hasLink(name string) bool { return slices.Contains(f.links, name) }

// Addrs implements Kernel.
func (f *FakeKernel) Addrs(_ context.Context, ifname string) ([]Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ifname != "" && !f.hasLink(ifname) {
		return nil, fmt.Errorf("interface %s: %w", ifname, ErrNoInterface)
	}
	var out []Addr
	for _, a := range f.addrs {
		if ifname == "" || a.Interface == ifname {
			out = append(out, a)
		}
	}
	return out, nil
}

// AddAddr implements Kernel.
func (f *FakeKernel) AddAddr(_ context.Context, a Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failOn["add "+a.Prefix.Addr().String()]; err != nil {
		return err
	}
	if !f.hasLink(a.Interface) {
		return fmt.Errorf("interface %s: %w", a.Interface, ErrNoInterface)
	}
	if slices.ContainsFunc(f.addrs, func(e Addr) bool { return sameAddr(e, a) }) {
		return fmt.Errorf("%s: %w", a, ErrExists)
	}
	if !a.Broadcast.IsValid() {
		a.Broadcast = broadcastOf(a.Prefix)
	}
	if a.Label == "" {
		a.Label = a.Interface
	}
	f.addrs = append(f.addrs, a)
	f.log = append(f.log, "add "+a.String())
	return nil
}

// DelAddr implements Kernel.
func (f *FakeKernel) DelAddr(_ context.Context, a Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failOn["del "+a.Prefix.Addr().String()]; err != nil {
		return err
	}
	f.log = append(f.log, fmt.Sprintf("del %s dev %s", a.Prefix, a.Interface))
	f.addrs = slices.DeleteFunc(f.addrs, func(e Addr) bool { return sameAddr(e, a) })
	return nil
}

// Announce implements Kernel.
func (f *FakeKernel) Announce(_ context.Context, ifname string, ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failOn["announce "+ip.String()]; err != nil {
		return err
	}
	f.log = append(f.log, fmt.Sprintf("announce %s dev %s", ip, ifname))
	return nil
}
