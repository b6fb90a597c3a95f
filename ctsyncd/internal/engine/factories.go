package engine

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/pkg/bus"
)

// gateName is how ctsyncd's gate and demotion appear at the producer.
const gateName = "ctsyncd"

// withDefaults fills the nil factories with the real operating system.
func (f Factories) withDefaults(runDir string, logger *slog.Logger) Factories {
	if f.OpenKernel == nil {
		f.OpenKernel = func(*config.Config) (Kernel, error) { return ctnl.Dial(ctnl.Options{}) }
	}
	if f.OpenEvents == nil {
		f.OpenEvents = openEvents
	}
	if f.OpenChannel == nil {
		f.OpenChannel = openChannel
	}
	if f.Follow == nil {
		f.Follow = func(ctx context.Context, cfg *config.Config) <-chan bus.Update {
			return bus.WatchFailover(ctx, producerDialer(runDir, cfg), cfg.BusGroup(), bus.WithLogger(logger))
		}
	}
	if f.NewGate == nil {
		f.NewGate = func(cfg *config.Config, prepare bus.PrepareFunc) Gate {
			return bus.NewHolder(producerDialer(runDir, cfg), cfg.BusGroup(), gateName, prepare, bus.WithLogger(logger))
		}
	}
	if f.LocalAddrs == nil {
		f.LocalAddrs = localAddrs
	}
	if f.EnableEvents == nil {
		f.EnableEvents = enableEvents
	}
	return f
}

// eventsSysctl is the network namespace's conntrack event setting: 0 off,
// 1 on, 2 (the default since Linux 6.0) only for connections created
// while some process listens for events.
const eventsSysctl = "/proc/sys/net/netfilter/nf_conntrack_events"

// enableEvents sets eventsSysctl to 1, returning what it was.
func enableEvents() (string, error) {
	b, err := os.ReadFile(eventsSysctl)
	if err != nil {
		return "", err
	}
	was := strings.TrimSpace(string(b))
	if was == "1" {
		return was, nil
	}
	return was, os.WriteFile(eventsSysctl, []byte("1\n"), 0o644)
}

// producerDialer reaches the daemon that publishes cfg's group: vrrpd for
// a sync group, clusterd for a cluster group.
func producerDialer(runDir string, cfg *config.Config) bus.Dialer {
	daemon := "vrrpd"
	if cfg.Mechanism.Kind == config.MechanismCluster {
		daemon = "clusterd"
	}
	return bus.DialerFor(bus.SocketPath(runDir, daemon))
}

// openEvents subscribes to the kernel's conntrack events (and
// expectations with expect-sync) with event-listen-queue-size of buffer.
func openEvents(cfg *config.Config, sink EventSink) (Events, error) {
	opts := ctnl.ListenerOptions{
		RcvBuf:    cfg.EventQueueBytes,
		OnEntry:   func(k ctnl.EventKind, e *ct.Entry, acct ctnl.Acct) { sink.Entry(cacheKind(k), e, acct) },
		OnOverrun: sink.Overrun,
	}
	if len(cfg.Expect) > 0 {
		opts.OnExpect = func(k ctnl.EventKind, x *ct.Expect) { sink.Expect(cacheKind(k), x) }
	}
	return ctnl.Listen(opts)
}

func cacheKind(k ctnl.EventKind) cache.EventKind {
	switch k {
	case ctnl.EventNew:
		return cache.New
	case ctnl.EventDestroy:
		return cache.Destroy
	}
	return cache.Update
}

// udpChannel adapts sync.UDPConn to Channel.
type udpChannel struct{ *sync.UDPConn }

func openChannel(cfg *config.Config, receive func(b []byte, from netip.AddrPort)) (SyncSocket, error) {
	c, err := sync.Listen(sync.ConnConfig{
		Interface:   cfg.Interface,
		Group:       cfg.MulticastGroup,
		Peer:        cfg.Peer,
		Port:        cfg.Port,
		BufferBytes: cfg.SyncQueueBytes,
	}, receive)
	if err != nil {
		return nil, err
	}
	return udpChannel{c}, nil
}

// localAddrs lists the node's addresses, sorted, for the filter (CS-B04).
func localAddrs() []netip.Addr {
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
