package firewall

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/coreos/go-iptables/iptables"
)

// tables is the part of go-iptables the filter uses, one per family.
type tables interface {
	ClearChain(table, chain string) error
	InsertUnique(table, chain string, pos int, rulespec ...string) error
	Append(table, chain string, rulespec ...string) error
	DeleteIfExists(table, chain string, rulespec ...string) error
	ClearAndDeleteChain(table, chain string) error
}

// Options say which binaries to run; empty means iptables and ip6tables
// from PATH. Tests point them at wrappers entering a namespace.
type Options struct {
	IptablesPath, Ip6tablesPath string
}

// Iptables keeps Chain holding the rules of every running group. Set and
// Remove return at once: a worker applies them in order, so that the
// state machine's loop never waits for iptables (a few milliseconds a
// call). A failure is logged and retried on the group's next Set.
type Iptables struct {
	v4, v6 tables
	log    *slog.Logger

	mu      sync.Mutex
	want    map[string][]Rule // each group's latest rules
	pending []string          // groups whose rules changed, oldest first
	wake    chan struct{}
	closed  bool
	busy    bool       // the worker is applying a group's rules
	idle    *sync.Cond // signalled when the worker runs out of work
	stopped chan struct{}

	have map[string][]Rule // the worker's: what is in the kernel
}

// Open empties Chain (a killed vrrpd's rules are not adopted: every group
// sets its own again) and makes PREROUTING of the raw table jump to it,
// for IPv4 and, if ip6tables runs, IPv6.
func Open(log *slog.Logger, opts Options) (*Iptables, error) {
	v4, err := iptables.New(iptables.IPFamily(iptables.ProtocolIPv4), iptables.Timeout(5), pathOption(opts.IptablesPath))
	if err != nil {
		return nil, fmt.Errorf("state filtering needs iptables (install the iptables package): %w", err)
	}
	var v6 tables
	if t, err := iptables.New(iptables.IPFamily(iptables.ProtocolIPv6), iptables.Timeout(5), pathOption(opts.Ip6tablesPath)); err != nil {
		log.Warn("no ip6tables: IPv6 groups are not filtered while BACKUP", "err", err)
	} else {
		v6 = t
	}
	return open(log, v4, v6)
}

func pathOption(path string) func(*iptables.IPTables) {
	if path == "" {
		return func(*iptables.IPTables) {}
	}
	return iptables.Path(path)
}

func open(log *slog.Logger, v4, v6 tables) (*Iptables, error) {
	f := &Iptables{v4: v4, v6: v6, log: log, want: map[string][]Rule{}, have: map[string][]Rule{},
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	f.idle = sync.NewCond(&f.mu)
	for _, t := range f.families() {
		if err := t.ClearChain(Table, Chain); err != nil {
			return nil, fmt.Errorf("create chain %s in table %s: %w", Chain, Table, err)
		}
		if err := t.InsertUnique(Table, hook, 1, "-j", Chain); err != nil {
			return nil, fmt.Errorf("jump from %s to %s in table %s: %w", hook, Chain, Table, err)
		}
	}
	go f.work()
	return f, nil
}

func (f *Iptables) families() []tables {
	if f.v6 == nil {
		return []tables{f.v4}
	}
	return []tables{f.v4, f.v6}
}

// Set makes g's rules those of its configuration; the engine calls it at
// the group's start and when a reload changes it in place.
func (f *Iptables) Set(g Group) { f.request(g.Key, Rules(g)) }

// Remove takes g's rules out, for a group that stops.
func (f *Iptables) Remove(key string) { f.request(key, nil) }

func (f *Iptables) request(key string, rules []Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.want[key] = rules
	if !slices.Contains(f.pending, key) {
		f.pending = append(f.pending, key)
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Close applies what is pending, then removes the jump and Chain.
func (f *Iptables) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.wake)
	f.idle.Broadcast()
	f.mu.Unlock()
	<-f.stopped
	var errs []error
	for _, t := range f.families() {
		if err := t.DeleteIfExists(Table, hook, "-j", Chain); err != nil {
			errs = append(errs, fmt.Errorf("remove the jump to %s: %w", Chain, err))
		}
		if err := t.ClearAndDeleteChain(Table, Chain); err != nil {
			errs = append(errs, fmt.Errorf("remove chain %s: %w", Chain, err))
		}
	}
	return errors.Join(errs...)
}

func (f *Iptables) work() {
	defer close(f.stopped)
	for range f.wake {
		for {
			key, rules, ok := f.next()
			if !ok {
				break
			}
			f.apply(key, rules)
		}
	}
}

// Flush waits until every rule requested before it is applied.
func (f *Iptables) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for (len(f.pending) > 0 || f.busy) && !f.closed {
		f.idle.Wait()
	}
}

func (f *Iptables) next() (string, []Rule, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy = false
	if len(f.pending) == 0 {
		f.idle.Broadcast()
		return "", nil, false
	}
	f.busy = true
	key := f.pending[0]
	f.pending = f.pending[1:]
	rules := f.want[key]
	if rules == nil {
		delete(f.want, key)
	}
	return key, rules, true
}

// apply deletes the group's rules it no longer wants, then appends the new
// ones; what failed stays as it was in have, to be retried next time.
func (f *Iptables) apply(key string, want []Rule) {
	have := f.have[key]
	var kept []Rule
	for _, r := range have {
		if slices.ContainsFunc(want, func(w Rule) bool { return w.key() == r.key() }) {
			kept = append(kept, r)
			continue
		}
		if err := f.table(r).DeleteIfExists(Table, Chain, r.Spec...); err != nil {
			f.log.Error("cannot remove a state filter rule", "group", key, "rule", r.Spec, "err", err)
			kept = append(kept, r)
		}
	}
	for _, r := range want {
		if slices.ContainsFunc(kept, func(k Rule) bool { return k.key() == r.key() }) {
			continue
		}
		t := f.table(r)
		if t == nil {
			continue // no ip6tables, warned at Open
		}
		if err := t.Append(Table, Chain, r.Spec...); err != nil {
			f.log.Error("cannot add a state filter rule: this BACKUP may accept traffic for the virtual router", "group", key, "rule", r.Spec, "err", err)
			continue
		}
		kept = append(kept, r)
	}
	if len(kept) == 0 {
		delete(f.have, key)
		return
	}
	f.have[key] = kept
}

func (f *Iptables) table(r Rule) tables {
	if r.IPv6 {
		return f.v6
	}
	return f.v4
}
