package resources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/pkg/clock"
	"github.com/hasuite/hasuite/pkg/hook"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultAnnounceCount    = 3
	DefaultAnnounceInterval = time.Second
)

// Options are a Group's collaborators and settings.
type Options struct {
	// Name is the cluster group's name, for logs and as the key that
	// serialises its scripts in the ScriptRunner.
	Name string
	// Kernel is required when the group has a cluster IP.
	Kernel Kernel
	// Scripts is required when the group has a script service.
	Scripts ScriptRunner
	// Ledger records the cluster IPs added: OpenLedger(filepath.Join(
	// stateDir, LedgerFile)). Nil keeps them in memory, so the leftovers
	// of a killed run are not recognised.
	Ledger *Ledger
	Clock  clock.Clock
	Logger *slog.Logger
	// InitDir (DefaultInitDir), ResourceDirs ({DefaultResourceDir,
	// GuideResourceDir}), SystemdDir (DefaultSystemdDir) and Systemctl
	// ("systemctl", looked up in PATH) say where script services are found.
	InitDir      string
	ResourceDirs []string
	SystemdDir   string
	Systemctl    string
	// Timeout bounds each script run (DefaultTimeout).
	Timeout time.Duration
	// AnnounceCount gratuitous ARPs AnnounceInterval apart follow each
	// cluster IP's start (DefaultAnnounceCount, DefaultAnnounceInterval);
	// a negative count sends none.
	AnnounceCount    int
	AnnounceInterval time.Duration
}

func (o *Options) setDefaults() {
	if o.Ledger == nil {
		o.Ledger, _ = OpenLedger("")
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.InitDir == "" {
		o.InitDir = DefaultInitDir
	}
	if o.ResourceDirs == nil {
		o.ResourceDirs = []string{DefaultResourceDir, GuideResourceDir}
	}
	if o.SystemdDir == "" {
		o.SystemdDir = DefaultSystemdDir
	}
	if o.Systemctl == "" {
		o.Systemctl = "systemctl"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.AnnounceCount == 0 {
		o.AnnounceCount = DefaultAnnounceCount
	}
	if o.AnnounceInterval <= 0 {
		o.AnnounceInterval = DefaultAnnounceInterval
	}
}

// Phase is where a service is in its life on this node.
type Phase int

const (
	Stopped Phase = iota
	Starting
	Running
	Stopping
	// Failed: its start or stop failed; State says why.
	Failed
)

func (p Phase) String() string {
	return [...]string{"stopped", "starting", "running", "stopping", "failed"}[p]
}

// ServiceState is one service as `show cluster status` and its --json
// report it.
type ServiceState struct {
	Service config.Service
	Phase   Phase
	// Since is when Phase was entered.
	Since time.Time
	// Err and Output are the last failure and its script's last lines.
	Err    string
	Output []string
	// Warning is a problem that did not stop the service (CL-B18).
	Warning string
}

// StartError says which service failed to start and why (CL-B14).
type StartError struct {
	Service config.Service
	Err     error
	// Output holds the last lines of the failing script's output.
	Output []string
	// RollbackErr holds what went wrong while stopping the services
	// started before it.
	RollbackErr error
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %s failed to start: %v", e.Service.Raw, e.Err)
	if len(e.Output) > 0 {
		fmt.Fprintf(&b, "; its output ends: %s", strings.Join(e.Output, " | "))
	}
	if e.RollbackErr != nil {
		fmt.Fprintf(&b, "; stopping the services started before it: %v", e.RollbackErr)
	}
	return b.String()
}

func (e *StartError) Unwrap() error { return e.Err }

// entry is one service with its resource and state.
type entry struct {
	svc config.Service
	res resource
	st  ServiceState
}

// Group is the ordered resources of a cluster group. Start, Stop,
// Reconcile and Cleanup are serialised; State may be called at any time.
type Group struct {
	opts       Options
	log        *slog.Logger
	announcing sync.WaitGroup

	op sync.Mutex // held by Start, Stop, Reconcile, Cleanup

	mu      sync.Mutex // guards entries' states and the slice
	entries []*entry
}

// New resolves services, in configuration order, into a Group. It fails
// when a script service cannot be found, saying where it was looked for.
// It starts nothing.
func New(services []config.Service, opts Options) (*Group, error) {
	opts.setDefaults()
	g := &Group{opts: opts, log: opts.Logger.With("group", opts.Name)}
	entries, err := g.resolve(services)
	if err != nil {
		return nil, err
	}
	g.entries = entries
	return g, nil
}

// Check reports whether every service can be resolved (the reload-time
// check of CL-C08b/c), without building a Group.
func Check(services []config.Service, opts Options) error {
	// Only the lookups matter here, not the collaborators.
	if opts.Kernel == nil {
		opts.Kernel = NewFakeKernel()
	}
	if opts.Scripts == nil {
		opts.Scripts = noScripts{}
	}
	_, err := New(services, opts)
	return err
}

// noScripts stands in for the ScriptRunner in Check.
type noScripts struct{}

func (noScripts) Run(context.Context, string, hook.Job) hook.Result { return hook.Result{} }

func (g *Group) resolve(services []config.Service) ([]*entry, error) {
	r := resolver{opts: &g.opts}
	var errs []error
	var out []*entry
	now := g.opts.Clock.Now()
	for _, s := range services {
		res, err := r.resolve(s, func(s config.Service) resource {
			return newClusterIP(s, &g.opts, &g.announcing)
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, ok := res.(*clusterIP); ok && g.opts.Kernel == nil {
			errs = append(errs, fmt.Errorf("service %s: no Kernel to add cluster IPs with", s.Raw))
		}
		if _, ok := res.(*command); ok && g.opts.Scripts == nil {
			errs = append(errs, fmt.Errorf("service %s: no ScriptRunner to run scripts with", s.Raw))
		}
		out = append(out, &entry{svc: s, res: res, st: ServiceState{Service: s, Since: now}})
	}
	return out, errors.Join(errs...)
}

// State returns every service's state, in configuration order.
func (g *Group) State() []ServiceState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]ServiceState, len(g.entries))
	for i, e := range g.entries {
		out[i] = e.st
		out[i].Output = slices.Clone(e.st.Output)
		if ip, ok := e.res.(*clusterIP); ok {
			out[i].Warning = ip.lastWarning()
		}
	}
	return out
}

func (g *Group) set(e *entry, p Phase, err error, output []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e.st.Phase, e.st.Since = p, g.opts.Clock.Now()
	switch {
	case err != nil:
		e.st.Err, e.st.Output = err.Error(), output
	case p == Running || p == Stopped:
		e.st.Err, e.st.Output = "", nil
	}
}

func (g *Group) snapshot() []*entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.entries)
}

// Start starts the services in configuration order, skipping those
// already running (CL-B15). When one fails, the ones started before it are
// stopped in reverse order, and the returned *StartError names the service
// with its output (CL-B14).
func (g *Group) Start(ctx context.Context) error {
	g.op.Lock()
	defer g.op.Unlock()
	return g.startEntries(ctx, g.snapshot())
}

func (g *Group) startEntries(ctx context.Context, entries []*entry) error {
	for i, e := range entries {
		if g.phase(e) == Running {
			continue
		}
		g.set(e, Starting, nil, nil)
		g.log.Info("starting service", "service", e.svc.Raw)
		output, err := e.res.start(ctx)
		if err == nil {
			g.set(e, Running, nil, nil)
			continue
		}
		g.set(e, Failed, err, output)
		g.log.Error("service failed to start, stopping the ones started before it", "service", e.svc.Raw, "err", err, "output", output)
		return &StartError{Service: e.svc, Err: err, Output: output, RollbackErr: g.stopEntries(ctx, entries[:i])}
	}
	return nil
}

func (g *Group) phase(e *entry) Phase {
	g.mu.Lock()
	defer g.mu.Unlock()
	return e.st.Phase
}

// Stop stops the services in reverse order (CL-B15). It goes on past
// failures and timeouts, and removes every cluster IP whatever happened to
// the scripts, so the peer can take over (CL-Q15). A service already
// stopped is skipped; a failed one is stopped again, in case it half
// started. The error joins every failure. A cancelled ctx skips the
// scripts but still removes the addresses.
func (g *Group) Stop(ctx context.Context) error {
	g.op.Lock()
	defer g.op.Unlock()
	return g.stopEntries(ctx, g.snapshot())
}

// StopLeftovers stops every service in reverse order whatever this Group
// knows of it: for the services a killed run may have left running, which
// a new Group believes stopped. Stopping a stopped service is harmless for
// init and resource scripts (LSB), and a cluster IP is removed only if the
// ledger says it is ours.
func (g *Group) StopLeftovers(ctx context.Context) error {
	g.op.Lock()
	defer g.op.Unlock()
	entries := g.snapshot()
	for _, e := range entries {
		g.set(e, Running, nil, nil)
	}
	return g.stopEntries(ctx, entries)
}

func (g *Group) stopEntries(ctx context.Context, entries []*entry) error {
	var errs []error
	for _, e := range slices.Backward(entries) {
		if g.phase(e) == Stopped {
			continue
		}
		g.set(e, Stopping, nil, nil)
		g.log.Info("stopping service", "service", e.svc.Raw)
		output, err := e.res.stop(ctx)
		if err != nil {
			g.set(e, Failed, err, output)
			g.log.Error("service failed to stop, going on with the others", "service", e.svc.Raw, "err", err, "output", output)
			errs = append(errs, fmt.Errorf("service %s: %w", e.svc.Raw, err))
			continue
		}
		g.set(e, Stopped, nil, nil)
	}
	return errors.Join(errs...)
}

// ServiceStatus is what a status check found for one service.
type ServiceStatus struct {
	Service config.Service
	Health  Health
	Err     error
}

// Status checks every service, in configuration order: the cluster IP on
// its interface, a script's `status` (exit 0 running, 3 stopped, LSB).
func (g *Group) Status(ctx context.Context) []ServiceStatus {
	entries := g.snapshot()
	out := make([]ServiceStatus, len(entries))
	for i, e := range entries {
		h, err := e.res.status(ctx)
		out[i] = ServiceStatus{Service: e.svc, Health: h, Err: err}
	}
	return out
}

// Reconcile replaces the group's services with services, as a reload does
// (CL-B23). While the group is started (any service not stopped), the
// removed services are stopped in reverse order and the added ones started
// in order; unchanged services are not touched and keep their state. Should
// an added service fail, the added ones started before it are stopped
// again and a *StartError returned; the new list is in place either way.
// A service that cannot be resolved changes nothing.
func (g *Group) Reconcile(ctx context.Context, services []config.Service) error {
	g.op.Lock()
	defer g.op.Unlock()
	fresh, err := g.resolve(services)
	if err != nil {
		return err
	}
	old := g.snapshot()
	started := slices.ContainsFunc(old, func(e *entry) bool { return g.phase(e) != Stopped })

	var removed, added []*entry
	for _, e := range old {
		if !slices.ContainsFunc(fresh, func(f *entry) bool { return sameService(e.svc, f.svc) }) {
			removed = append(removed, e)
		}
	}
	for i, f := range fresh {
		j := slices.IndexFunc(old, func(e *entry) bool { return sameService(e.svc, f.svc) })
		if j < 0 {
			added = append(added, f)
			continue
		}
		fresh[i] = old[j] // keeps its resource (with its ARP burst) and state
	}

	var errs []error
	if started {
		if err := g.stopEntries(ctx, removed); err != nil {
			errs = append(errs, err)
		}
	}
	g.mu.Lock()
	g.entries = fresh
	g.mu.Unlock()
	if started {
		if err := g.startEntries(ctx, added); err != nil {
			errs = append(errs, err)
		}
	}
	if len(removed)+len(added) > 0 {
		g.log.Info("services reloaded", "added", len(added), "removed", len(removed), "started", started)
	}
	return errors.Join(errs...)
}

// sameService: the service a reload leaves alone. A cluster IP is the same
// when its address, prefix, interface and broadcast are: a new alias label
// alone (the numbering moved) does not take the address down.
func sameService(a, b config.Service) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == config.ServiceIP {
		return a.Addr == b.Addr && a.Interface == b.Interface && a.Broadcast == b.Broadcast
	}
	return a.Name == b.Name && slices.Equal(a.Args, b.Args)
}

// Cleanup removes the cluster IPs a previous run left behind (recorded in
// the ledger and still on their interface with their label), as a
// restarted clusterd does before anything else. Addresses no longer
// matching the record are someone else's now and stay. It returns what it
// removed.
func Cleanup(ctx context.Context, k Kernel, ledger *Ledger, log *slog.Logger) ([]Addr, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var removed []Addr
	var errs []error
	for _, rec := range ledger.Entries() {
		failures := len(errs)
		present, err := k.Addrs(ctx, rec.Interface)
		if errors.Is(err, ErrNoInterface) {
			present, err = nil, nil
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range present {
			if !sameAddr(p, rec) {
				continue
			}
			if p.Label != rec.Label {
				log.Warn("a recorded cluster IP now has another label; leaving it", "addr", p.String(), "recorded_label", rec.Label)
				continue
			}
			if err := k.DelAddr(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("remove leftover cluster IP %s: %w", p, err))
				continue
			}
			log.Info("removed a cluster IP left by an earlier run", "addr", p.String())
			removed = append(removed, p)
		}
		if len(errs) == failures { // keep the record of what could not be removed
			if err := ledger.Forget(rec); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return removed, errors.Join(errs...)
}

// Close stops the gratuitous ARP bursts still running and waits for them.
// It leaves the services as they are.
func (g *Group) Close() {
	for _, e := range g.snapshot() {
		if ip, ok := e.res.(*clusterIP); ok {
			ip.stopAnnouncing()
		}
	}
	g.announcing.Wait()
}
