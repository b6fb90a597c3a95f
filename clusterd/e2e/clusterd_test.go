//go:build e2e

// Package e2e runs the clusterd binary ($HASUITE_BIN/clusterd, built by
// `go build -o bin/ ./clusterd`) on two routers in a netlab, as guide
// chapter 3 sets them up: R1 and R2 on the LAN of the cluster IP, a second
// heartbeat link between them, two monitor hosts (one on the LAN, one
// upstream, as the guide's 10.6.0.55 and 10.1.0.1), and a client that must
// always reach the cluster IP.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/netlab"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

const (
	clusterIP = "10.6.0.100"
	clientIP  = "10.6.0.50"
	// monitorIP is the monitor host on the LAN, upstreamIP the one on the
	// routers' upstream link: a node can lose either alone.
	monitorIP  = "10.6.0.55"
	upstreamIP = "10.1.0.1"
	// patience bounds every wait; a failover takes about a second here.
	patience = 30 * time.Second
	// secret is long enough not to draw validate's warning.
	secret = "e2e-secret-0123456789"
)

// spec is what varies between the tests' cluster configurations; the
// timers are the brief's fast ones (keepalive 200 ms, dead 1 s), so that
// each case takes seconds, not the guide's minutes.
type spec struct {
	autoFailback bool
	secret       string   // empty: the shared secret
	monitors     []string // nil: both monitor hosts, the LAN's first
}

func (s spec) config() string {
	if s.secret == "" {
		s.secret = secret
	}
	if s.monitors == nil {
		s.monitors = []string{monitorIP, upstreamIP}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster {\n    dead-interval 1000\n    group cluster1 {\n        auto-failback %t\n", s.autoFailback)
	b.WriteString("        primary R1\n        secondary R2\n")
	for _, m := range s.monitors {
		fmt.Fprintf(&b, "        monitor %s\n", m)
	}
	// CL-B15: the cluster IP first, then the two scripts; stopped in
	// reverse, so the scripts still see the address when they stop.
	fmt.Fprintf(&b, "        service %s/24/eth0\n        service record::a\n        service record::b\n    }\n", clusterIP)
	b.WriteString("    init-dead-interval 2000\n    interface eth0\n    interface eth1\n")
	b.WriteString("    keepalive-interval 200\n    monitor-dead-interval 1000\n")
	fmt.Fprintf(&b, "    pre-shared-secret %q\n}\n", s.secret)
	return b.String()
}

// clusterd binary built by `go build -o bin/ ./clusterd`.
func clusterdBinary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Fatal("HASUITE_BIN is not set: `go build -o DIR/ ./clusterd` and set HASUITE_BIN=DIR")
	}
	path := filepath.Join(dir, "clusterd")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no clusterd binary: %v", err)
	}
	return path
}

// newLab is the chapter's set-up: eth0 of both routers, the client and the
// monitor host on the LAN bridge, eth1 of both routers on the heartbeat
// bridge (the second cluster interface), eth2 of both routers and the
// upstream monitor host on the upstream bridge, which carries no
// heartbeats: cutting a router's eth2 costs it that monitor alone, cutting
// the upstream host's costs both routers the same monitor.
func newLab(t *testing.T) *netlab.Lab {
	netlab.RequirePrivileged(t)
	host := func(name, bridge, addr string) netlab.NodeSpec {
		return netlab.NodeSpec{Name: name, Interfaces: []netlab.Interface{{Name: "eth0", Bridge: bridge, Addrs: []string{addr + "/24"}}}}
	}
	router := func(name string, n int) netlab.NodeSpec {
		return netlab.NodeSpec{Name: name, Interfaces: []netlab.Interface{
			{Name: "eth0", Bridge: "lan", Addrs: []string{fmt.Sprintf("10.6.0.%d/24", n)}},
			{Name: "eth1", Bridge: "hb", Addrs: []string{fmt.Sprintf("10.7.0.%d/24", n)}},
			{Name: "eth2", Bridge: "up", Addrs: []string{fmt.Sprintf("10.1.0.%d/24", 10+n)}},
		}}
	}
	return netlab.New(t, netlab.Topology{
		Bridges: []string{"lan", "hb", "up"},
		Nodes: []netlab.NodeSpec{host("client", "lan", clientIP), host("monitor", "lan", monitorIP),
			host("upstream", "up", upstreamIP), router("r1", 1), router("r2", 2)},
	})
}

// router is one clusterd in a lab node, with its own files: the
// configuration, the run, state and resource directories, and the log the
// resource script appends its calls to.
type router struct {
	node *netlab.Node
	name string // the cluster's name for it: R1 or R2
	bin  string
	dir  string
	proc *netlab.Process
}

// recordScript is the resource.d script `record`: it appends the time in
// nanoseconds, its arguments and whether the cluster IP is on the node to
// the log, and keeps a state file per argument so that `status` answers
// as LSB says.
const recordScript = `#!/bin/sh
dir=%q
held=$(ip -o -4 addr show to %s/32 | wc -l)
echo "$(date +%%s%%N) $* ip=$held" >>"$dir/calls.log"
case "$2" in
start) touch "$dir/running.$1" ;;
stop) rm -f "$dir/running.$1" ;;
status) [ -e "$dir/running.$1" ] || exit 3 ;;
esac
exit 0
`

func newRouter(t *testing.T, bin string, lab *netlab.Lab, node string, s spec) *router {
	t.Helper()
	r := &router{node: lab.Node(node), name: strings.ToUpper(node), bin: bin, dir: t.TempDir()}
	for _, d := range []string{"run", "state", "resource.d"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf(recordScript, r.dir, clusterIP)
	if err := os.WriteFile(filepath.Join(r.dir, "resource.d", "record"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r.writeConfig(t, s)
	return r
}

// startRouter writes the router's configuration and starts clusterd.
func startRouter(t *testing.T, bin string, lab *netlab.Lab, node string, s spec) *router {
	t.Helper()
	r := newRouter(t, bin, lab, node, s)
	r.start(t)
	return r
}

func (r *router) configPath() string { return filepath.Join(r.dir, "clusterd.conf") }

// writeConfig replaces the configuration file; reload applies it.
func (r *router) writeConfig(t *testing.T, s spec) {
	t.Helper()
	if err := os.WriteFile(r.configPath(), []byte(s.config()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// globals are the flags every clusterd command of this router takes.
func (r *router) globals() []string {
	return []string{"--config", r.configPath(), "--run-dir", filepath.Join(r.dir, "run"),
		"--state-dir", filepath.Join(r.dir, "state"), "--resource-dir", filepath.Join(r.dir, "resource.d"),
		"--init-dir", filepath.Join(r.dir, "init.d"), "--scripts-dir", r.dir, "--node-name", r.name}
}

// start runs clusterd; after a kill it is a restart that finds what the
// killed run left, with the same state directory (node id, ledger).
func (r *router) start(t *testing.T) {
	t.Helper()
	var err error
	r.proc, err = r.node.Start(t.Context(), r.bin, append(r.globals(), "--log-level", "debug", "run")...)
	if err != nil {
		t.Fatalf("start clusterd on %s: %v", r.node.Name(), err)
	}
}

// cli runs a clusterd command against this router's daemon, as an
// operator would; the unix socket needs no namespace.
func (r *router) cli(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	out, err := exec.CommandContext(ctx, r.bin, append(r.globals(), args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("clusterd %s on %s: %v: %s", strings.Join(args, " "), r.name, err, out)
	}
	return string(out), nil
}

// status is `show cluster status --json`.
func (r *router) status(ctx context.Context) (*clusterv1.Status, error) {
	out, err := r.cli(ctx, "show", "cluster", "status", "--json")
	if err != nil {
		return nil, err
	}
	var resp clusterv1.ShowStatusResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("parse show cluster status --json: %v", err)
	}
	return resp.Status, nil
}

// statusReport is the guide's `show cluster status` for this lab, whose
// only variable parts are the local node, the two nodes' states, the two
// monitors' (the LAN's, then the upstream one) and the holder line
// (CL-O01).
func statusReport(local, primary, secondary, lan, upstream, holder string) string {
	this := func(n string) string {
		if n == local {
			return n + " (this node)"
		}
		return n
	}
	role := "primary"
	if local == "R2" {
		role = "secondary"
	}
	return fmt.Sprintf(`=== Status report on %s node %s ===

Primary %s: %s

Secondary %s: %s

Monitor 10.6.0.55: %s
Monitor 10.1.0.1: %s

Resources [10.6.0.100 record::a record::b]:
  %s
`, role, local, this("R1"), primary, this("R2"), secondary, lan, upstream, holder)
}

// waitReport waits until `show cluster status` on r prints want.
func (r *router) waitReport(t *testing.T, want string) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		got, err := r.cli(t.Context(), "show", "cluster", "status")
		if err != nil {
			return false, err.Error()
		}
		return got == want, "show cluster status on " + r.name + ":\n" + got + "want:\n" + want
	})
}

// statistics is `show cluster statistics --json`.
func (r *router) statistics(t *testing.T) *clusterv1.ShowStatisticsResponse {
	t.Helper()
	out, err := r.cli(t.Context(), "show", "cluster", "statistics", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var resp clusterv1.ShowStatisticsResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("parse show cluster statistics --json: %v", err)
	}
	return &resp
}

// local is this node's line of a status.
func local(s *clusterv1.Status) *clusterv1.Node {
	if s.GetPrimary().GetThisNode() {
		return s.GetPrimary()
	}
	return s.GetSecondary()
}

// peer is the other node's line of a status.
func peer(s *clusterv1.Status) *clusterv1.Node {
	if s.GetPrimary().GetThisNode() {
		return s.GetSecondary()
	}
	return s.GetPrimary()
}

// role is what a test waits for: the node's own state as it reports it,
// and whether it says it holds the resources (ACTIVE on the bus) or the
// peer does (STANDBY).
type role int

const (
	active  role = iota // NODE_STATE_ACTIVE, ACTIVE on the bus, resources active here
	standby             // NODE_STATE_ACTIVE_STANDBY, STANDBY on the bus, resources active on the peer
	downMon             // NODE_STATE_DOWN_MONITOR, DOWN on the bus, resources active on the peer
	// activeDownMon: NODE_STATE_DOWN_MONITOR, ACTIVE on the bus, resources
	// active here: a holder that lost a monitor the peer lost too, or
	// verifying a new one, keeps them (CL-Q04, CL-B23).
	activeDownMon
)

func (w role) String() string {
	return [...]string{"active", "standby", "down (monitor)", "active, down (monitor)"}[w]
}

// busState is the state clusterd publishes for cluster/cluster1 on the
// failover bus (CL-B22), what ctsyncd would follow.
func (r *router) busState(ctx context.Context) (busv1.State, error) {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	conn, err := bus.Dial(ctx, filepath.Join(r.dir, "run", "clusterd.sock"))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	resp, err := busv1.NewFailoverClient(conn).List(ctx, &busv1.ListRequest{})
	if err != nil {
		return 0, fmt.Errorf("list the bus groups of %s: %w", r.name, err)
	}
	for _, g := range resp.GetGroups() {
		if g.GetGroup() == "cluster/cluster1" {
			return g.GetState(), nil
		}
	}
	return 0, fmt.Errorf("%s publishes no cluster/cluster1 on the bus: %v", r.name, resp.GetGroups())
}

// is is a condition: the router's clusterd is in role w (in one of the
// roles more), by its status and by the bus.
func (r *router) is(ctx context.Context, w role, more ...role) netlab.Condition {
	return func() (bool, string) {
		if r.proc.Exited() {
			return false, "clusterd exited:\n" + r.proc.Output()
		}
		s, err := r.status(ctx)
		if err != nil {
			return false, err.Error()
		}
		onBus, err := r.busState(ctx)
		if err != nil {
			return false, err.Error()
		}
		res := s.GetResources()
		held := res.GetState() == clusterv1.ResourceState_RESOURCE_STATE_ACTIVE
		self := local(s).GetState()
		got := fmt.Sprintf("%s: self %s, bus %s, resources %s on %q (here %t), want %v", r.name, self, onBus,
			res.GetState(), res.GetHolder(), res.GetHolderIsThisNode(), append([]role{w}, more...))
		for _, w := range append([]role{w}, more...) {
			var ok bool
			switch w {
			case active:
				ok = self == clusterv1.NodeState_NODE_STATE_ACTIVE && onBus == busv1.State_STATE_ACTIVE && held && res.GetHolderIsThisNode()
			case standby:
				ok = self == clusterv1.NodeState_NODE_STATE_ACTIVE_STANDBY && onBus == busv1.State_STATE_STANDBY && held && !res.GetHolderIsThisNode()
			case downMon:
				ok = self == clusterv1.NodeState_NODE_STATE_DOWN_MONITOR && onBus == busv1.State_STATE_DOWN && held && !res.GetHolderIsThisNode()
			case activeDownMon:
				ok = self == clusterv1.NodeState_NODE_STATE_DOWN_MONITOR && onBus == busv1.State_STATE_ACTIVE && held && res.GetHolderIsThisNode()
			}
			if ok {
				return true, got
			}
		}
		return false, got
	}
}

// holds is a condition: r holds the resources (ACTIVE on the bus, the
// resources active here), or with here false leaves them to the peer (not
// ACTIVE on the bus, the resources active there), whatever it says of
// itself: a node verifying a new monitor shows itself Active (standby)
// while the bus says DOWN until the monitor answers.
func (r *router) holds(ctx context.Context, here bool) netlab.Condition {
	return func() (bool, string) {
		if r.proc.Exited() {
			return false, "clusterd exited:\n" + r.proc.Output()
		}
		s, err := r.status(ctx)
		if err != nil {
			return false, err.Error()
		}
		onBus, err := r.busState(ctx)
		if err != nil {
			return false, err.Error()
		}
		res := s.GetResources()
		held := res.GetState() == clusterv1.ResourceState_RESOURCE_STATE_ACTIVE && res.GetHolderIsThisNode() == here
		return held && (onBus == busv1.State_STATE_ACTIVE) == here,
			fmt.Sprintf("%s: self %s, bus %s, resources %s on %q (here %t), want them here %t", r.name, local(s).GetState(),
				onBus, res.GetState(), res.GetHolder(), res.GetHolderIsThisNode(), here)
	}
}

func (r *router) wait(t *testing.T, w role) {
	t.Helper()
	netlab.WaitFor(t, patience, r.is(t.Context(), w))
}

// holders names the nodes whose kernel carries addr ("r1:eth0"),
// whatever put it there: the kernel answers for an address it holds.
func holders(addr string, nodes ...*netlab.Node) ([]string, error) {
	var found []string
	for _, n := range nodes {
		links, err := n.Netlink().LinkList()
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			addrs, err := n.Netlink().AddrList(l, netlink.FAMILY_V4)
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				if a.IP.String() == addr {
					found = append(found, n.Name()+":"+l.Attrs().Name)
				}
			}
		}
	}
	return found, nil
}

// onlyHolder is a condition: of the routers, only want's kernel holds the
// cluster IP (want nil: none does). Never two nodes answering for it.
func onlyHolder(want *router, routers ...*router) netlab.Condition {
	return func() (bool, string) {
		var all []string
		ok := true
		for _, r := range routers {
			held, err := holders(clusterIP, r.node)
			if err != nil {
				return false, err.Error()
			}
			all = append(all, held...)
			if (r == want) != (len(held) > 0) {
				ok = false
			}
		}
		name := "none"
		if want != nil {
			name = want.node.Name()
		}
		return ok, fmt.Sprintf("%s held by %v, want %s", clusterIP, all, name)
	}
}

// takeoverTime polls every 10 ms until r's kernel holds the cluster IP and
// returns how long after since it did: a figure for the log, never
// asserted (the machine's load decides it).
func takeoverTime(t *testing.T, r *router, since time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		held, err := holders(clusterIP, r.node)
		if err != nil {
			t.Fatal(err)
		}
		if len(held) > 0 {
			return time.Since(since)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not take %s within %v", r.name, clusterIP, patience)
	return 0
}

// holdsFor checks that cond keeps holding for d: how a test shows that
// something does not happen.
func holdsFor(t *testing.T, d time.Duration, cond netlab.Condition) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, status := cond(); !ok {
			t.Fatalf("condition stopped holding after %v of %v: %s", d-time.Until(deadline).Round(time.Millisecond), d, status)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watcher checks a condition in the background while the test acts (a
// reload), so that a brief wrong state between two steps shows too.
type watcher struct {
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	checks   int
	failure  string
}

// watch checks cond at once and then every 100 ms until Stop, for at most
// 4*patience.
func watch(t *testing.T, cond netlab.Condition) *watcher {
	t.Helper()
	w := &watcher{stop: make(chan struct{}), done: make(chan struct{})}
	started := time.Now()
	go func() {
		defer close(w.done)
		for deadline := started.Add(4 * patience); time.Now().Before(deadline); {
			ok, status := cond()
			w.checks++
			if !ok {
				w.failure = fmt.Sprintf("after %v: %s", time.Since(started).Round(time.Millisecond), status)
				return
			}
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		w.failure = fmt.Sprintf("still watching after %v: the test never stopped the watch", 4*patience)
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *watcher) halt() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// Stop ends the watch and fails the test if the condition ever failed.
func (w *watcher) Stop(t *testing.T) {
	t.Helper()
	w.halt()
	if w.failure != "" {
		t.Fatalf("condition stopped holding %s", w.failure)
	}
	t.Logf("condition held at each of %d checks", w.checks)
}

// monitorCounts is a condition: r's status counts here of total monitors
// reachable from r and there from its peer (from the peer's heartbeats).
func (r *router) monitorCounts(ctx context.Context, here, there, total uint32) netlab.Condition {
	return func() (bool, string) {
		st, err := r.status(ctx)
		if err != nil {
			return false, err.Error()
		}
		l, p := local(st), peer(st)
		return l.GetMonitorsReachable() == here && l.GetMonitorsTotal() == total &&
				p.GetMonitorsReachable() == there && p.GetMonitorsTotal() == total,
			fmt.Sprintf("%s counts %d of %d monitors here, %d of %d on the peer; want %d, %d of %d", r.name,
				l.GetMonitorsReachable(), l.GetMonitorsTotal(), p.GetMonitorsReachable(), p.GetMonitorsTotal(), here, there, total)
	}
}

// all is a condition that holds when every one of conds does.
func all(conds ...netlab.Condition) netlab.Condition {
	return func() (bool, string) {
		var states []string
		ok := true
		for _, c := range conds {
			good, s := c()
			ok = ok && good
			states = append(states, s)
		}
		return ok, strings.Join(states, "; ")
	}
}

// call is one start or stop the record script logged.
type call struct {
	at   time.Time
	what string // "a start ip=1"
}

// callLog is every start and stop call the record script logged on the
// router, oldest first; status checks are left out.
func (r *router) callLog(t *testing.T) []call {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, "calls.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []call
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] == "status" {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("%s's script log: bad time in %q", r.name, line)
		}
		out = append(out, call{at: time.Unix(0, ns), what: strings.Join(f[1:], " ")})
	}
	return out
}

// calls are the start and stop calls the record script logged on the
// router, oldest first ("a start ip=1").
func (r *router) calls(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, c := range r.callLog(t) {
		out = append(out, c.what)
	}
	return out
}

// lastCall is when the router's script last logged what ("a stop ip=1").
func (r *router) lastCall(t *testing.T, what string) time.Time {
	t.Helper()
	log := r.callLog(t)
	for _, c := range slices.Backward(log) {
		if c.what == what {
			return c.at
		}
	}
	t.Fatalf("%s's script never logged %q: %v", r.name, what, log)
	return time.Time{}
}

// handedOver checks CL-B16 from the script logs: the node giving the
// resources up had stopped its last service before the taking node
// started its first script.
func handedOver(t *testing.T, from, to *router) {
	t.Helper()
	stopped, started := from.lastCall(t, "a stop ip=1"), to.lastCall(t, "a start ip=1")
	if !stopped.Before(started) {
		t.Errorf("%s started a at %v, before %s stopped a at %v: both held the resources", to.name,
			started.Format(time.StampMicro), from.name, stopped.Format(time.StampMicro))
	}
}

// waitCalls waits until the router's script log is exactly want.
func (r *router) waitCalls(t *testing.T, want ...string) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		got := r.calls(t)
		return slices.Equal(got, want), fmt.Sprintf("%s's resource script calls %q, want %q", r.name, got, want)
	})
}

// pair starts the two-node cluster of spec s and waits until R1 holds the
// resources, R2 stands by and the client reaches the cluster IP.
func pair(t *testing.T, s spec) (lab *netlab.Lab, r1, r2 *router) {
	t.Helper()
	bin := clusterdBinary(t)
	lab = newLab(t)
	r1 = startRouter(t, bin, lab, "r1", s)
	r2 = startRouter(t, bin, lab, "r2", s)
	r1.wait(t, active)
	r2.wait(t, standby)
	netlab.WaitFor(t, patience, onlyHolder(r1, r1, r2))
	lab.Node("client").WaitPing(t, clusterIP, patience)
	return lab, r1, r2
}
