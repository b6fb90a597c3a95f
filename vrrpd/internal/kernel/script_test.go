package kernel

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The scripted sequence below runs against the Fake and, in a namespace,
// against Netlink: both must render the same state after every step.

var (
	parentMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	parentAddr = netip.MustParsePrefix("172.16.0.2/24")
	vmac99     = VMAC{Name: "eth0v99", Parent: "eth0", MAC: VirtualMAC(99, false), Description: "uplink"}
)

type scriptStep struct {
	name string
	do   func(ctx context.Context, k Kernel) error
	want string // Render(k, "eth0") afterwards
}

func ensure(v VMAC) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error { return k.EnsureVMAC(ctx, v) }
}

// twice runs op twice: every Kernel method must be idempotent.
func twice(op func(context.Context, Kernel) error) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error {
		if err := op(ctx, k); err != nil {
			return err
		}
		return op(ctx, k)
	}
}

func addVIP(ifname, vip string) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error {
		return k.AddVIP(ctx, ifname, netip.MustParsePrefix(vip))
	}
}

func removeVIP(ifname, vip string) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error {
		return k.RemoveVIP(ctx, ifname, netip.MustParsePrefix(vip))
	}
}

func deleteVMAC(name string) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error { return k.DeleteVMAC(ctx, name) }
}

func lines(l ...string) string { return strings.Join(l, "\n") }

const (
	linkLine   = "ip link add eth0v99 link eth0 address 00:00:5e:00:01:63 type macvlan mode private"
	parentLine = "ip addr add 172.16.0.2/24 dev eth0"
)

func script() []scriptStep {
	core := vmac99
	core.Description = "core"
	return []scriptStep{
		{"VR-B18 creates the VRRP interface", twice(ensure(vmac99)), lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:uplink" up`, parentLine)},
		{"VR-B13 VIP on the VRRP interface", twice(addVIP("eth0v99", "172.16.0.24/24")), lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:uplink" up`, parentLine,
			"ip addr add 172.16.0.24/24 dev eth0v99")},
		{"IPv6 VIP", twice(addVIP("eth0v99", "2001:db8::24/64")), lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:uplink" up`, parentLine,
			"ip addr add 172.16.0.24/24 dev eth0v99", "ip addr add 2001:db8::24/64 dev eth0v99")},
		{"VR-Q01 legacy VIP on the parent", twice(addVIP("eth0", "172.16.0.25/32")), lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:uplink" up`, parentLine,
			"ip addr add 172.16.0.25/32 dev eth0",
			"ip addr add 172.16.0.24/24 dev eth0v99", "ip addr add 2001:db8::24/64 dev eth0v99")},
		{"VIP removal", twice(removeVIP("eth0v99", "172.16.0.24/24")), lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:uplink" up`, parentLine,
			"ip addr add 172.16.0.25/32 dev eth0", "ip addr add 2001:db8::24/64 dev eth0v99")},
		{"IPv6 VIP removal", twice(removeVIP("eth0v99", "2001:db8::24/64")), lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:uplink" up`, parentLine,
			"ip addr add 172.16.0.25/32 dev eth0")},
		{"VR-C19 description change keeps the interface and its VIPs", func(ctx context.Context, k Kernel) error {
			if err := addVIP("eth0v99", "2001:db8::24/64")(ctx, k); err != nil {
				return err
			}
			return ensure(core)(ctx, k)
		}, lines(
			linkLine, `ip link set eth0v99 alias "vrrpd:core" up`, parentLine,
			"ip addr add 172.16.0.25/32 dev eth0", "ip addr add 2001:db8::24/64 dev eth0v99")},
		{"VR-B34 clean stop", func(ctx context.Context, k Kernel) error {
			if err := twice(deleteVMAC("eth0v99"))(ctx, k); err != nil {
				return err
			}
			if err := removeVIP("eth0", "172.16.0.25/32")(ctx, k); err != nil {
				return err
			}
			return removeVIP("eth0v99", "2001:db8::24/64")(ctx, k) // interface gone: no error
		}, parentLine},
	}
}

func runScript(t *testing.T, k Kernel) {
	t.Helper()
	for _, step := range script() {
		if err := step.do(t.Context(), k); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := Render(t.Context(), k, "eth0")
		if err != nil {
			t.Fatalf("%s: render: %v", step.name, err)
		}
		if got != step.want {
			t.Fatalf("%s: state\n%s\nwant\n%s", step.name, got, step.want)
		}
	}
}

// checkRefusesForeign: an interface named like ours but not created by us
// is never reused, deleted or listed (VR-Q16).
func checkRefusesForeign(t *testing.T, k Kernel, name string) {
	t.Helper()
	ctx := t.Context()
	v := VMAC{Name: name, Parent: "eth0", MAC: VirtualMAC(7, false)}
	if err := k.EnsureVMAC(ctx, v); err == nil || !strings.Contains(err.Error(), "not created by vrrpd") {
		t.Errorf("EnsureVMAC over a foreign %s: err = %v, want a refusal", name, err)
	}
	if err := k.DeleteVMAC(ctx, name); err == nil {
		t.Errorf("DeleteVMAC of a foreign %s succeeded", name)
	}
	if err := k.SetIngressCopy(ctx, name, IngressCopy{Mirror: "eth0"}); err == nil || !strings.Contains(err.Error(), "did not create it") {
		t.Errorf("SetIngressCopy on a foreign %s: err = %v, want a refusal", name, err)
	}
	for _, drop := range []bool{true, false} {
		if err := k.SetBackupDrop(ctx, name, drop); err == nil || !strings.Contains(err.Error(), "did not create it") {
			t.Errorf("SetBackupDrop(%v) on a foreign %s: err = %v, want a refusal", drop, name, err)
		}
	}
	left, err := k.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if l.Name == name {
			t.Errorf("Leftovers lists the foreign %s", name)
		}
	}
	missingParent := VMAC{Name: "nope0v1", Parent: "nope0", MAC: VirtualMAC(1, false)}
	if err := k.EnsureVMAC(ctx, missingParent); !errors.Is(err, ErrNoInterface) {
		t.Errorf("EnsureVMAC on a missing parent: err = %v, want ErrNoInterface", err)
	}
}

// eventWatcher collects events and waits for expected ones; the real
// kernel sends more (repeated link updates) than a test names.
type eventWatcher struct {
	t      *testing.T
	events <-chan Event
	seen   []Event
}

func watch(t *testing.T, k Kernel) *eventWatcher {
	t.Helper()
	events, err := k.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &eventWatcher{t: t, events: events}
}

func (w *eventWatcher) waitFor(want Event) {
	w.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				w.t.Fatalf("event channel closed waiting for %v; saw %v", want, w.seen)
			}
			w.seen = append(w.seen, ev)
			if ev == want {
				return
			}
		case <-deadline.C:
			w.t.Fatalf("no %v within 10s; saw %v", want, w.seen)
		}
	}
}

// checkEvents drives the FAULT inputs of VR-B30 and checks they arrive:
// carrier loss and return, a needed address removed, the VRRP interface
// deleted. setRunning pulls or plugs eth0's cable.
func checkEvents(t *testing.T, k Kernel, setRunning func(bool) error) {
	t.Helper()
	ctx := t.Context()
	if err := k.EnsureVMAC(ctx, vmac99); err != nil {
		t.Fatal(err)
	}
	w := watch(t, k)
	vip := netip.MustParsePrefix("172.16.0.24/24")
	if err := k.AddVIP(ctx, "eth0v99", vip); err != nil {
		t.Fatal(err)
	}
	w.waitFor(Event{Kind: AddressAdded, Interface: "eth0v99", Address: vip})
	if err := setRunning(false); err != nil {
		t.Fatal(err)
	}
	w.waitFor(Event{Kind: LinkDown, Interface: "eth0"})
	w.waitFor(Event{Kind: LinkDown, Interface: "eth0v99"})
	if err := setRunning(true); err != nil {
		t.Fatal(err)
	}
	w.waitFor(Event{Kind: LinkUp, Interface: "eth0"})
	if err := k.RemoveVIP(ctx, "eth0", parentAddr); err != nil {
		t.Fatal(err)
	}
	w.waitFor(Event{Kind: AddressRemoved, Interface: "eth0", Address: parentAddr})
	if err := k.DeleteVMAC(ctx, "eth0v99"); err != nil {
		t.Fatal(err)
	}
	w.waitFor(Event{Kind: LinkGone, Interface: "eth0v99"})
}
