package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hasuite/hasuite/pkg/clock"
)

// Prober sends echo requests and delivers the replies. ICMP is the real
// one; tests use a fake.
type Prober interface {
	// Send sends one echo request with sequence number seq to dst.
	Send(dst netip.Addr, seq uint16) error
	// Replies delivers the echo replies to this Prober's requests; it is
	// closed by Close.
	Replies() <-chan Reply
	Close() error
}

// Reply is an echo reply received.
type Reply struct {
	From netip.Addr
	Seq  uint16
}

// Config is what the configuration says about monitors.
type Config struct {
	Monitors []netip.Addr
	// Interval is keepalive-interval: one request per monitor each time
	// (CL-B09).
	Interval time.Duration
	// DeadInterval is monitor-dead-interval (CL-C12).
	DeadInterval time.Duration
}

func (c Config) check() error {
	if c.Interval <= 0 || c.DeadInterval <= 0 {
		return fmt.Errorf("monitor: interval %v and dead interval %v must be positive", c.Interval, c.DeadInterval)
	}
	return nil
}

// Pinger pings the monitors and tracks them. New starts nothing; Run
// does.
type Pinger struct {
	prober Prober
	clock  clock.Clock
	log    *slog.Logger

	reconfigure chan Config
	changes     chan Status

	mu     sync.Mutex
	cfg    Config
	status Status
}

// New returns a Pinger for cfg sending through prober. A nil clock is
// clock.Real(), a nil logger discards.
func New(prober Prober, cfg Config, clk clock.Clock, log *slog.Logger) (*Pinger, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pinger{
		prober: prober, clock: clk, log: log,
		reconfigure: make(chan Config),
		changes:     make(chan Status, 1),
		cfg:         cfg,
	}, nil
}

// Changes delivers the status after every change, level-triggered: a
// status not yet received is replaced by the newer one, so a slow reader
// skips intermediate states but always gets the latest.
func (p *Pinger) Changes() <-chan Status { return p.changes }

// Status returns the current status; safe from any goroutine.
func (p *Pinger) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status.clone()
}

// Reconfigure applies a reload while Run runs (CL-B23): monitors kept keep
// their state. It fails if Run has ended or ctx ends first.
func (p *Pinger) Reconfigure(ctx context.Context, cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	select {
	case p.reconfigure <- cfg:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("monitor: reconfigure: %w", context.Cause(ctx))
	}
}

// Run pings until ctx ends, then closes the prober. The first requests go
// out at once.
func (p *Pinger) Run(ctx context.Context) error {
	defer p.prober.Close()
	p.mu.Lock()
	cfg := p.cfg
	p.mu.Unlock()
	tracker := NewTracker(cfg.Monitors, cfg.DeadInterval, p.clock.Now())
	p.publish(tracker.Status())

	ticker := p.clock.NewTicker(cfg.Interval)
	defer ticker.Stop()
	expiry := p.clock.NewTimer(time.Hour)
	defer expiry.Stop()
	armExpiry := func() {
		expiry.Stop()
		if next, ok := tracker.NextExpiry(); ok {
			expiry.Reset(max(next.Sub(p.clock.Now()), 0))
		}
	}
	armExpiry()

	var seq uint16
	sendErrs := map[netip.Addr]string{}
	sendAll := func() {
		seq++
		for _, m := range tracker.Status().Monitors {
			err := p.prober.Send(m.Addr, seq)
			if err == nil {
				tracker.Sent(m.Addr)
			}
			// Log a send error when it starts or changes, not every interval.
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if msg != sendErrs[m.Addr] {
				if err != nil {
					p.log.Warn("cannot ping monitor", "monitor", m.Addr.String(), "err", err)
				} else {
					p.log.Info("pinging monitor again", "monitor", m.Addr.String())
				}
				sendErrs[m.Addr] = msg
			}
		}
	}
	sendAll()
	p.store(tracker.Status())

	replies := p.prober.Replies()
	for {
		changed := false
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
			sendAll()
			p.store(tracker.Status()) // the counts, for Status
			continue
		case r, ok := <-replies:
			if !ok {
				return errors.New("monitor: the prober stopped delivering replies")
			}
			changed = tracker.Reply(r.From, p.clock.Now())
		case <-expiry.C():
			changed = tracker.Expire(p.clock.Now())
		case c := <-p.reconfigure:
			changed = tracker.Reconfigure(c.Monitors, c.DeadInterval, p.clock.Now())
			if c.Interval != cfg.Interval {
				ticker.Reset(c.Interval)
			}
			cfg = c
			p.mu.Lock()
			p.cfg = c
			p.mu.Unlock()
		}
		armExpiry()
		st := tracker.Status()
		if changed {
			p.logTransitions(st)
			p.publish(st)
		} else {
			p.store(st) // reply times and counts
		}
	}
}

// logTransitions logs each monitor whose state differs from the last
// published status.
func (p *Pinger) logTransitions(st Status) {
	prev := p.Status()
	for _, m := range st.Monitors {
		i := slices.IndexFunc(prev.Monitors, func(o MonitorStatus) bool { return o.Addr == m.Addr })
		if i >= 0 && prev.Monitors[i].State == m.State {
			continue
		}
		p.log.Info("monitor "+strings.ToLower(m.State.String()), "monitor", m.Addr.String())
	}
}

// store makes st what Status returns, without announcing a change.
func (p *Pinger) store(st Status) {
	p.mu.Lock()
	p.status = st
	p.mu.Unlock()
}

func (p *Pinger) publish(st Status) {
	p.store(st)
	for {
		select {
		case p.changes <- st.clone():
			return
		default:
		}
		select {
		case <-p.changes: // drop the stale one
		default:
		}
	}
}
