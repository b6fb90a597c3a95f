package resources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/pkg/clock"
)

// clusterIP is a cluster IP service (CL-C08a, CL-B13).
type clusterIP struct {
	addr   Addr
	kernel Kernel
	ledger *Ledger
	clock  clock.Clock
	log    *slog.Logger
	// count and interval shape the gratuitous ARP burst.
	count    int
	interval time.Duration
	// announcing tracks the burst goroutines of the whole group.
	announcing *sync.WaitGroup

	mu sync.Mutex
	// cancel stops the burst in progress, if any.
	cancel context.CancelFunc
	// warning is the last CL-B18 finding, for State.
	warning string
}

func newClusterIP(s config.Service, o *Options, wg *sync.WaitGroup) *clusterIP {
	return &clusterIP{
		addr:   Addr{Interface: s.Interface, Prefix: s.Addr, Broadcast: s.Broadcast, Label: s.Label},
		kernel: o.Kernel, ledger: o.Ledger, clock: o.Clock, log: o.Logger.With("cluster_ip", s.Addr.Addr().String(), "interface", s.Interface),
		count: o.AnnounceCount, interval: o.AnnounceInterval, announcing: wg,
	}
}

// label is what the kernel shows for our address: the alias label, or the
// interface name when the service has none.
func (c *clusterIP) label() string {
	if c.addr.Label == "" {
		return c.addr.Interface
	}
	return c.addr.Label
}

func (c *clusterIP) recorded() Addr {
	a := c.addr
	a.Label = c.label()
	return a
}

func (c *clusterIP) start(ctx context.Context) ([]string, error) {
	ip := c.addr.Prefix.Addr()
	present, err := c.find(ctx)
	if err != nil {
		return nil, err
	}
	if len(present) > 0 {
		for _, p := range present {
			if p.Interface != c.addr.Interface || !c.ledger.Owns(p) {
				return nil, fmt.Errorf("cluster IP %s is already on %s (label %s) and clusterd did not add it: %w; remove it from that interface's configuration, the cluster group brings it up (CL-B17)",
					ip, p.Interface, p.Label, ErrNotOurs)
			}
		}
		// Ours, left by a clusterd that did not stop cleanly: keep it.
		c.log.Info("cluster IP already up from an earlier run, keeping it")
	} else {
		c.checkOwnSubnet(ctx)
		if err := c.ledger.Record(c.recorded()); err != nil {
			return nil, fmt.Errorf("cluster IP %s not added: %w", ip, err)
		}
		if err := c.kernel.AddAddr(ctx, c.addr); err != nil {
			_ = c.ledger.Forget(c.addr)
			return nil, fmt.Errorf("add cluster IP %s to %s: %w", c.addr.Prefix, c.addr.Interface, err)
		}
	}
	c.announce()
	return nil, nil
}

// find returns the kernel's addresses equal to the cluster IP, on any
// interface.
func (c *clusterIP) find(ctx context.Context) ([]Addr, error) {
	all, err := c.kernel.Addrs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("cluster IP %s: list addresses: %w", c.addr.Prefix.Addr(), err)
	}
	var out []Addr
	for _, a := range all {
		if a.Prefix.Addr() == c.addr.Prefix.Addr() {
			out = append(out, a)
		}
	}
	return out, nil
}

// checkOwnSubnet warns when the interface has no address of its own in
// the cluster IP's subnet: heartbeats and monitor pings need one (CL-B18).
func (c *clusterIP) checkOwnSubnet(ctx context.Context) {
	addrs, err := c.kernel.Addrs(ctx, c.addr.Interface)
	if err != nil {
		return // AddAddr reports a missing interface
	}
	subnet := c.addr.Prefix.Masked()
	for _, a := range addrs {
		own := a.Prefix.Addr() != c.addr.Prefix.Addr() && !c.ledger.Owns(a)
		if own && a.Prefix.Masked().Contains(c.addr.Prefix.Addr()) {
			c.setWarning("")
			return
		}
	}
	w := fmt.Sprintf("interface %s has no address of its own in %s: give it one, monitor pings and the peer need it (CL-B18)", c.addr.Interface, subnet)
	c.log.Warn("the cluster IP's interface has no address of its own in its subnet: give it one, monitor pings and the peer need it (CL-B18)", "subnet", subnet.String())
	c.setWarning(w)
}

func (c *clusterIP) setWarning(w string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warning = w
}

func (c *clusterIP) lastWarning() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warning
}

// announce starts the gratuitous ARP burst in the background: count
// frames, interval apart, the first at once (CL-B13). A burst still running
// is replaced.
func (c *clusterIP) announce() {
	if c.count <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	if c.cancel != nil {
		c.cancel()
	}
	c.cancel = cancel
	c.mu.Unlock()
	c.announcing.Add(1)
	go func() {
		defer c.announcing.Done()
		defer cancel()
		ip := c.addr.Prefix.Addr()
		for i := range c.count {
			if i > 0 {
				t := c.clock.NewTimer(c.interval)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C():
				}
			}
			if err := c.kernel.Announce(ctx, c.addr.Interface, ip); err != nil && ctx.Err() == nil {
				c.log.Warn("cannot send gratuitous ARP for the cluster IP", "err", err)
			}
		}
	}()
}

func (c *clusterIP) stopAnnouncing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
}

// stop removes the address if it is ours; someone else's stays.
func (c *clusterIP) stop(ctx context.Context) ([]string, error) {
	c.stopAnnouncing()
	present, err := c.find(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range present {
		if p.Interface != c.addr.Interface || !c.ledger.Owns(p) {
			c.log.Warn("leaving an address clusterd did not add", "label", p.Label, "on", p.Interface)
			continue
		}
		if err := c.kernel.DelAddr(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("remove cluster IP %s from %s: %w", p.Prefix, p.Interface, err))
		}
	}
	if len(errs) == 0 {
		if err := c.ledger.Forget(c.addr); err != nil {
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(errs...)
}

func (c *clusterIP) status(ctx context.Context) (Health, error) {
	present, err := c.find(ctx)
	if err != nil {
		return HealthUnknown, err
	}
	for _, p := range present {
		if p.Interface == c.addr.Interface && c.ledger.Owns(p) {
			return HealthRunning, nil
		}
	}
	if len(present) > 0 {
		return HealthUnknown, fmt.Errorf("cluster IP %s is on %s but clusterd did not add it: %w", c.addr.Prefix.Addr(), present[0].Interface, ErrNotOurs)
	}
	return HealthStopped, nil
}
