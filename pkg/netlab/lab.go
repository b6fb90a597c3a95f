package netlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Options tune Build.
type Options struct {
	// Persistent labs outlive the program that built them: no owner is
	// recorded, so Sweep leaves them alone, and Close only releases what
	// this program holds (its processes included). Destroy removes them.
	Persistent bool
	// Logf receives the output of the processes started in the lab, line
	// by line; nil discards it.
	Logf func(format string, args ...any)
}

// Lab is a built topology. Its methods are safe for concurrent use.
type Lab struct {
	prefix     string
	topo       Topology
	persistent bool
	logf       func(format string, args ...any)

	nodes []*Node
	// sw is the switch namespace holding the bridges; nil without bridges.
	sw *namespace

	mu        sync.Mutex
	closed    bool
	processes []*Process
	closers   []io.Closer // captures, pingers, listeners, connections

	closeOnce sync.Once
	closeErr  error
}

// namespace is an open network namespace of the lab.
type namespace struct {
	name   string
	handle netns.NsHandle
	nl     *netlink.Handle
}

func openNamespace(name string, handle netns.NsHandle) (*namespace, error) {
	nl, err := netlink.NewHandleAt(handle)
	if err != nil {
		handle.Close()
		return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
	}
	return &namespace{name: name, handle: handle, nl: nl}, nil
}

func (ns *namespace) close() {
	ns.nl.Close()
	ns.handle.Close()
}

// New builds the topology for a test under a fresh random prefix and tears
// it down when the test ends, whether it passes, fails or panics. It skips
// (or fails, see RequirePrivileged) when the test cannot create namespaces.
// Output of processes started in the lab goes to the test log.
func New(tb testing.TB, topo Topology) *Lab {
	tb.Helper()
	RequirePrivileged(tb)
	lab, err := Build(context.Background(), "", topo, Options{Logf: tb.Logf})
	if err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	tb.Cleanup(func() {
		if err := lab.Close(); err != nil {
			tb.Errorf("netlab: %v", err)
		}
	})
	tb.Logf("netlab: built lab %s; enter a node with: ip netns exec %s-<node> bash", lab.prefix, lab.prefix)
	return lab
}

// Build realises the topology with namespaces named <prefix>-<node> (and
// <prefix>-switch for the bridges). An empty prefix picks a random unused
// one: "hs", four letters or digits and a digit, a form a fixed word-like
// prefix such as "hslab" never takes. If anything fails, whatever was built
// is removed again.
func Build(ctx context.Context, prefix string, topo Topology, opts Options) (*Lab, error) {
	if err := topo.validate(); err != nil {
		return nil, fmt.Errorf("invalid topology: %w", err)
	}
	rec, err := claimPrefix(prefix, opts.Persistent)
	if err != nil {
		return nil, err
	}
	lab := &Lab{
		prefix:     rec.Prefix,
		topo:       topo,
		persistent: opts.Persistent,
		logf:       opts.Logf,
	}
	if lab.logf == nil {
		lab.logf = func(string, ...any) {}
	}
	if err := lab.build(ctx); err != nil {
		// A failed build is never worth keeping, persistent or not.
		lab.persistent = false
		return nil, errors.Join(fmt.Errorf("build lab %s: %w", lab.prefix, err), lab.Close())
	}
	return lab, nil
}

// claimPrefix records a new lab, picking a free random prefix when none is
// given.
func claimPrefix(prefix string, persistent bool) (record, error) {
	if prefix != "" {
		if err := checkPrefix(prefix); err != nil {
			return record{}, err
		}
		return claimOne(prefix, persistent)
	}
	var err error
	for range 10 {
		var rec record
		candidate := randomPrefix()
		if rec, err = claimOne(candidate, persistent); err == nil {
			return rec, nil
		}
	}
	return record{}, fmt.Errorf("no free lab prefix: %w", err)
}

func claimOne(prefix string, persistent bool) (record, error) {
	rec := record{Prefix: prefix, Persistent: persistent}
	if !persistent {
		var err error
		if rec, err = ownerRecord(prefix); err != nil {
			return record{}, err
		}
	}
	// Leftover namespaces without a record would collide with ours.
	if names, err := namespacesWithPrefix(prefix); err != nil || len(names) > 0 {
		return record{}, fmt.Errorf("lab %s: namespaces %v already exist: remove them with netlab.Destroy(%q)", prefix, names, prefix)
	}
	if err := claim(rec); err != nil {
		if errors.Is(err, os.ErrExist) {
			return record{}, fmt.Errorf("lab %s already exists: remove it with netlab.Destroy(%q): %w", prefix, prefix, err)
		}
		return record{}, err
	}
	return rec, nil
}

// Attach opens an existing lab, typically a persistent one built by another
// run of a program, given the topology it was built from. Closing the
// returned Lab releases what this program holds and leaves the lab in place.
func Attach(prefix string, topo Topology) (*Lab, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := topo.validate(); err != nil {
		return nil, fmt.Errorf("invalid topology: %w", err)
	}
	lab := &Lab{prefix: prefix, topo: topo, persistent: true, logf: func(string, ...any) {}}
	var missing []string
	open := func(name string) *namespace {
		handle, err := netns.GetFromName(name)
		if err != nil {
			missing = append(missing, name)
			return nil
		}
		ns, err := openNamespace(name, handle)
		if err != nil {
			missing = append(missing, name)
			return nil
		}
		return ns
	}
	if len(topo.Bridges) > 0 {
		lab.sw = open(lab.namespaceName(switchNode))
	}
	for _, spec := range topo.Nodes {
		if ns := open(lab.namespaceName(spec.Name)); ns != nil {
			lab.nodes = append(lab.nodes, &Node{namespace: ns, lab: lab, spec: spec})
		}
	}
	if len(missing) > 0 {
		lab.Close()
		if len(lab.nodes) == 0 && lab.sw == nil {
			return nil, fmt.Errorf("attach to lab %s: %w", prefix, ErrNoLab)
		}
		return nil, fmt.Errorf("attach to lab %s: namespaces missing: %s", prefix, strings.Join(missing, ", "))
	}
	return lab, nil
}

// Prefix is the lab's name prefix, shared by its namespaces.
func (l *Lab) Prefix() string { return l.prefix }

// Nodes lists the lab's nodes in the topology's order.
func (l *Lab) Nodes() []*Node { return slices.Clone(l.nodes) }

// Node returns the named node; it panics on a name not in the topology, a
// mistake in the test itself.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.nodes {
		if n.spec.Name == name {
			return n
		}
	}
	names := make([]string, len(l.nodes))
	for i, n := range l.nodes {
		names[i] = n.spec.Name
	}
	panic(fmt.Sprintf("netlab: lab %s has no node %q (nodes: %s)", l.prefix, name, strings.Join(names, ", ")))
}

// SwitchNamespace is the name of the namespace holding the bridges, empty
// when the topology has none.
func (l *Lab) SwitchNamespace() string {
	if l.sw == nil {
		return ""
	}
	return l.sw.name
}

func (l *Lab) namespaceName(node string) string { return l.prefix + "-" + node }

// track registers something to close at teardown; it refuses once the lab is
// closed, so nothing outlives it unnoticed.
func (l *Lab) track(c io.Closer) error {
	return l.whileOpen(func() { l.closers = append(l.closers, c) })
}

func (l *Lab) trackProcess(p *Process) error {
	return l.whileOpen(func() { l.processes = append(l.processes, p) })
}

// whileOpen runs register under the lab's lock unless the lab is closed.
func (l *Lab) whileOpen(register func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("lab %s is closed", l.prefix)
	}
	register()
	return nil
}

// Close tears the lab down: it stops captures, pingers and servers, kills
// the processes started in it and, unless the lab is persistent, kills
// whatever else runs in its namespaces and deletes them with every link and
// the lab's record. It is idempotent.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

func (l *Lab) teardown() error {
	l.mu.Lock()
	l.closed = true
	closers, processes := l.closers, l.processes
	l.closers, l.processes = nil, nil
	l.mu.Unlock()

	var errs []error
	for _, c := range slices.Backward(closers) {
		// Whatever the caller closed already is fine.
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, p := range processes {
		p.killAndReap()
	}

	namespaces := make([]*namespace, 0, len(l.nodes)+1)
	for _, n := range l.nodes {
		namespaces = append(namespaces, n.namespace)
	}
	if l.sw != nil {
		namespaces = append(namespaces, l.sw)
	}
	for _, ns := range namespaces {
		ns.close()
	}
	if !l.persistent {
		errs = append(errs, Destroy(l.prefix))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down lab %s: %w", l.prefix, err)
	}
	return nil
}
