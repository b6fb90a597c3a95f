//go:build e2e

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// ==== ctsyncd's half ====
//
// Written before the daemon existed, against the interface ARCHITECTURE.md
// and issue 5 gave it, then checked against the binary (ctsyncd/main.go,
// run.go, client.go; proto/hasuite/ctsync/v1/ctsync.proto and
// ctsyncd/internal/server/convert.go for the JSON):
//
//   - `ctsyncd --config F --run-dir D --scripts-dir D --state-dir D
//     --log-level info run` runs it in the foreground (pkg/daemon's global
//     flags, like clusterd); it finds vrrpd's socket in the shared run dir;
//   - `ctsyncd --run-dir D show conntrack-sync statistics --json` prints
//     ShowStatisticsResponse in protojson with every field (show.JSON sets
//     EmitUnpopulated, so a zero counter is "0", never missing):
//     main.external.current (uint64, so a JSON string) is the external
//     cache's size, main.replication.overruns the event socket's overruns;
//   - `ctsyncd --run-dir D show conntrack-sync status --json` prints
//     {"status": {...}}: peer.alive, syncedOnce (false while the start-up
//     demotion holds), lastCommit.duration (a protojson Duration, "0.5s",
//     which time.ParseDuration reads; null before the first commit);
//   - ctsyncd follows vrrpd's sync group and, when R1's vrrpd stops
//     cleanly (SIGTERM: priority 0), commits its external cache on R2
//     before R2's vrrpd brings the VIP up: the transition to PRIMARY and
//     the takeover gate's prepare both run on the engine's loop, so the
//     gate answers only once the commit is done;
//   - the config language is the guide's; the tuned config sets
//     event-listen-queue-size 8 (the default, said explicitly), the default
//     one sets only what is required.
//
// Until $HASUITE_BIN/ctsyncd exists every ctsyncd case skips with
// "ctsyncd binary not built yet".

var ctsyncdDaemon = daemon{
	name: "ctsyncd",
	missing: func() string {
		if hasuiteBinary("ctsyncd") == "" {
			return "ctsyncd binary not built yet (go build -o bin/ ./ctsyncd, set HASUITE_BIN)"
		}
		if hasuiteBinary("vrrpd") == "" {
			return "no vrrpd binary for ctsyncd's failover mechanism (go build -o bin/ ./vrrpd, set HASUITE_BIN)"
		}
		return ""
	},
	version: func() string {
		v := benchdoc.CommandVersion(hasuiteBinary("ctsyncd"), "--version")
		if env := daemonEnv(); len(env) > 0 {
			v += " (environment " + strings.Join(env, " ") + ")"
		}
		return v
	},
	start: startCtsyncd,
}

// daemonEnv is HASUITE_BENCH_CTSYNCD_ENV split into VAR=VALUE words: the
// environment given to ctsyncd alone (not vrrpd, not this process), to
// try the runtime's knobs (GOGC, GOMEMLIMIT, GODEBUG=gctrace=1) against
// the aims without rebuilding. The report names it when set.
func daemonEnv() []string {
	return strings.Fields(os.Getenv("HASUITE_BENCH_CTSYNCD_ENV"))
}

// ctsyncdConfig is the service conntrack-sync of one router: multicast on
// the sync link (the default group and port), following sync group BENCH.
func ctsyncdConfig(defaults bool) string {
	tuning := "\t\tevent-listen-queue-size 8\n"
	if defaults {
		tuning = ""
	}
	return fmt.Sprintf("service {\n\tconntrack-sync {\n\t\tinterface eth1\n%s"+
		"\t\tfailover-mechanism {\n\t\t\tvrrp {\n\t\t\t\tsync-group %s\n\t\t\t}\n\t\t}\n\t}\n}\n", tuning, syncGroup)
}

// benchVrrpdConfig is one VRRPv3 group at 100 ms on eth0 in sync group
// BENCH: R1 (200) becomes master within Master_Down (~360 ms) of its start.
func benchVrrpdConfig(priority int) string {
	return fmt.Sprintf("interfaces {\n\tethernet eth0 {\n\t\tvrrp {\n\t\t\tvrrp-group 1 {\n\t\t\t\tversion 3\n"+
		"\t\t\t\tadvertise-interval 0.1\n\t\t\t\tpriority %d\n\t\t\t\tsync-group %s\n\t\t\t\tvirtual-address %s/24\n"+
		"\t\t\t}\n\t\t}\n\t}\n}\n", priority, syncGroup, vip)
}

// ctsyncdNode is vrrpd and ctsyncd on one router.
type ctsyncdNode struct {
	node         *netlab.Node
	dir          string
	vrrpd, syncd *netlab.Process
}

func (n *ctsyncdNode) runDir() string { return filepath.Join(n.dir, "run") }

type ctsyncdPair struct{ r1, r2 *ctsyncdNode }

func startCtsyncd(ctx context.Context, lab *netlab.Lab, dir string, defaults bool) (pair, error) {
	vrrpd, ctsyncd := hasuiteBinary("vrrpd"), hasuiteBinary("ctsyncd")
	p := &ctsyncdPair{}
	start := func(n *ctsyncdNode, bin, name, conf string) (*netlab.Process, error) {
		path := filepath.Join(n.dir, name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		args := []string{"--config", path, "--run-dir", n.runDir(), "--scripts-dir", n.dir,
			"--state-dir", filepath.Join(n.dir, "state"), "--log-level", "info", "run"}
		if env := daemonEnv(); name == "ctsyncd" && len(env) > 0 {
			// env(1) execs ctsyncd: the PID stays the daemon's.
			return n.node.Start(ctx, "env", append(append(env, bin), args...)...)
		}
		return n.node.Start(ctx, bin, args...)
	}
	// vrrpd first, R1 before R2, so that R1 is master and R2 backup when
	// ctsyncd starts; then ctsyncd on both.
	for _, r := range []struct {
		node     string
		priority int
		dst      **ctsyncdNode
	}{{"r1", 200, &p.r1}, {"r2", 100, &p.r2}} {
		n := &ctsyncdNode{node: lab.Node(r.node), dir: filepath.Join(dir, r.node)}
		for _, d := range []string{n.runDir(), filepath.Join(n.dir, "state")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		*r.dst = n
		var err error
		if n.vrrpd, err = start(n, vrrpd, "vrrpd", benchVrrpdConfig(r.priority)); err != nil {
			_ = p.stop()
			return nil, err
		}
		if r.node == "r1" {
			if err := netlab.Poll(ctx, patience, func() (bool, string) { return holdsVIP(n.node), "R1 does not hold the VIP" }); err != nil {
				_ = p.stop()
				return nil, fmt.Errorf("vrrpd: %w", err)
			}
		}
	}
	for _, n := range []*ctsyncdNode{p.r1, p.r2} {
		var err error
		if n.syncd, err = start(n, ctsyncd, "ctsyncd", ctsyncdConfig(defaults)); err != nil {
			_ = p.stop()
			return nil, err
		}
	}
	// Up: each sees the other alive, and R2 (which holds a demotion until
	// its first full resync) has synced once.
	err := netlab.Poll(ctx, patience, func() (bool, string) {
		for _, n := range []*ctsyncdNode{p.r1, p.r2} {
			if n.syncd.Exited() {
				return false, "ctsyncd on " + n.node.Name() + " exited:\n" + n.syncd.Output()
			}
			st, err := n.show(ctx, "status")
			if err != nil {
				return false, err.Error()
			}
			if alive, _ := jsonPath(st, "status", "peer", "alive").(bool); !alive {
				return false, n.node.Name() + ": peer not alive yet"
			}
			if n == p.r2 {
				if synced, _ := jsonPath(st, "status", "syncedOnce").(bool); !synced {
					return false, "R2 has not synced once yet"
				}
			}
		}
		return true, ""
	})
	if err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("ctsyncd pair: %w", err)
	}
	return p, nil
}

// show runs `ctsyncd show conntrack-sync WHAT --json` on the node.
func (n *ctsyncdNode) show(ctx context.Context, what string) (map[string]any, error) {
	cmd := exec.CommandContext(ctx, hasuiteBinary("ctsyncd"), "--run-dir", n.runDir(), "show", "conntrack-sync", what, "--json")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: ctsyncd show conntrack-sync %s --json: %w", n.node.Name(), what, err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("%s: ctsyncd show conntrack-sync %s --json: %w", n.node.Name(), what, err)
	}
	return v, nil
}

func (p *ctsyncdPair) external(ctx context.Context) (int, error) {
	st, err := p.r2.show(ctx, "statistics")
	if err != nil {
		return 0, err
	}
	return jsonInt(jsonPath(st, "main", "external", "current"))
}

func (p *ctsyncdPair) failPrimary() error { return killProcess(p.r1.syncd) }

// takeover stops R1's vrrpd cleanly: R2's vrrpd becomes master after its
// skew time and holds its addresses back until ctsyncd's gate is ready,
// i.e. until the external cache is committed. It returns once R2 holds
// the VIP, with the duration ctsyncd gives for its last commit.
func (p *ctsyncdPair) takeover(ctx context.Context) (time.Duration, error) {
	if err := p.r1.vrrpd.Stop(5 * time.Second); err != nil && !isSignalExit(err) {
		return 0, err
	}
	if err := netlab.Poll(ctx, patience, func() (bool, string) { return holdsVIP(p.r2.node), "R2 does not hold the VIP" }); err != nil {
		return 0, err
	}
	// The gate has a deadline: past it vrrpd brings the VIP up anyway, so
	// wait for the commit's record too (null until it ends; R2, a backup
	// since its start, has made no other commit).
	var s string
	err := netlab.Poll(ctx, patience, func() (bool, string) {
		st, err := p.r2.show(ctx, "status")
		if err != nil {
			return false, err.Error()
		}
		s, _ = jsonPath(st, "status", "lastCommit", "duration").(string)
		n, _ := jsonInt(jsonPath(st, "status", "lastCommit", "entries"))
		return s != "" && n > 0, "R2 has not committed the external cache yet (status.lastCommit)"
	})
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("status.lastCommit.duration %q: %w", s, err)
	}
	return d, nil
}

func (p *ctsyncdPair) pids(node string) []int {
	n := p.r1
	if node == "r2" {
		n = p.r2
	}
	return netlab.ProcessTree(n.syncd.Pid())
}

func (p *ctsyncdPair) overruns(ctx context.Context) (int, error) {
	st, err := p.r1.show(ctx, "statistics")
	if err != nil {
		return 0, err
	}
	return jsonInt(jsonPath(st, "main", "replication", "overruns"))
}

func (p *ctsyncdPair) stop() error {
	var errs []error
	for _, n := range []*ctsyncdNode{p.r1, p.r2} {
		if n == nil {
			continue
		}
		for _, proc := range []*netlab.Process{n.syncd, n.vrrpd} {
			if proc != nil && !proc.Exited() {
				if err := proc.Stop(5 * time.Second); err != nil && !isSignalExit(err) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// holdsVIP reports whether the node has the VRRP address.
func holdsVIP(node *netlab.Node) bool {
	addrs, err := node.Netlink().AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.String() == vip })
}

// jsonPath walks nested objects of a decoded JSON document; nil when a
// key is missing.
func jsonPath(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// jsonInt reads a protojson integer: uint64 fields are strings.
func jsonInt(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return strconv.Atoi(strings.TrimSpace(x))
	case float64:
		return int(x), nil
	}
	return 0, fmt.Errorf("want a number, got %v", v)
}
