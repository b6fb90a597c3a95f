//go:build e2e

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

const (
	// The sync link (eth1) and the VRRP link ctsyncd's failover mechanism
	// uses (eth0, for vrrpd only) join R1 and R2 directly.
	r1Sync = "192.168.0.1"
	r2Sync = "192.168.0.2"
	vip    = "10.5.0.100"
	// syncGroup is the VRRP sync group ctsyncd follows.
	syncGroup = "BENCH"
	// patience bounds every wait for a daemon to come up or go.
	patience = 30 * time.Second
	// bound is the longest a replication or burst trial waits for R2.
	bound = 60 * time.Second
	// small and large are the N.
	small = 10_000
	large = 100_000
)

// topology is two routers, each its own network namespace and so its own
// conntrack table, joined by two veth links: eth1 carries the sync
// messages, eth0 vrrpd's adverts (the ctsyncd half only).
var topology = func() netlab.Topology {
	router := func(name string, n int, peer string) netlab.NodeSpec {
		return netlab.NodeSpec{Name: name, Interfaces: []netlab.Interface{
			{Name: "eth0", Peer: netlab.Endpoint{Node: peer, Interface: "eth0"}, Addrs: []string{fmt.Sprintf("10.5.0.%d/24", n)}},
			{Name: "eth1", Peer: netlab.Endpoint{Node: peer, Interface: "eth1"}, Addrs: []string{fmt.Sprintf("192.168.0.%d/24", n)}},
		}}
	}
	return netlab.Topology{Nodes: []netlab.NodeSpec{router("r1", 1, "r2"), router("r2", 2, "r1")}}
}()

// trialLog keeps a lab's log lines (daemon output) to show when a trial
// fails, instead of printing them all: benchmark logs are always printed.
type trialLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *trialLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// tail is the last n lines, for an error message.
func (l *trialLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// newLab builds the topology under a fresh random prefix; the caller
// closes it.
func newLab(ctx context.Context, log *trialLog) (*netlab.Lab, error) {
	return netlab.Build(ctx, "", topology, netlab.Options{Logf: log.logf})
}

// flush empties a node's conntrack table.
func flush(ctx context.Context, node *netlab.Node) error {
	_, err := node.Run(ctx, "conntrack", "-F")
	return err
}

// counter reads a node's nf_conntrack_count through a file opened once in
// the node, so that polling it every millisecond costs one pread.
type counter struct{ f *os.File }

func openCounter(node *netlab.Node) (*counter, error) {
	var f *os.File
	err := node.Do(func() error {
		var err error
		f, err = os.Open("/proc/sys/net/netfilter/nf_conntrack_count")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w (is nf_conntrack loaded?)", node.Name(), err)
	}
	return &counter{f: f}, nil
}

func (c *counter) count() (int, error) {
	var buf [32]byte
	n, err := c.f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(buf[:n])))
}

func (c *counter) Close() error { return c.f.Close() }

// watchCount polls c every millisecond until it reaches n or ctx ends,
// and reports when it first saw more than from and when it saw n.
type countWatch struct {
	First, Done time.Time
	Last        int
	Err         error
}

func watchCount(ctx context.Context, c *counter, from, n int) <-chan countWatch {
	out := make(chan countWatch, 1)
	go func() {
		var w countWatch
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			v, err := c.count()
			now := time.Now()
			if err != nil {
				w.Err = err
				out <- w
				return
			}
			w.Last = v
			if v > from && w.First.IsZero() {
				w.First = now
			}
			if v >= n {
				w.Done = now
				out <- w
				return
			}
			select {
			case <-ctx.Done():
				w.Err = fmt.Errorf("kernel table at %d of %d entries: %w", v, n, context.Cause(ctx))
				out <- w
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// waitCount polls get every interval until it returns at least n, for at
// most limit; it returns the time it saw n (or the last value and an
// error).
func waitCount(ctx context.Context, limit, interval time.Duration, n int, get func(context.Context) (int, error)) (time.Time, int, error) {
	deadline := time.Now().Add(limit)
	last := -1
	var lastErr error
	for {
		v, err := get(ctx)
		now := time.Now()
		if err == nil {
			last = v
			if v >= n {
				return now, v, nil
			}
		} else {
			lastErr = err
		}
		if now.After(deadline) {
			if lastErr != nil && last < 0 {
				return now, last, fmt.Errorf("no count after %v: %w", limit, lastErr)
			}
			return now, last, fmt.Errorf("%d of %d entries after %v", last, n, limit)
		}
		select {
		case <-ctx.Done():
			return now, last, context.Cause(ctx)
		case <-time.After(interval):
		}
	}
}

// rssFile sums the RssFile lines of /proc/PID/status over pids, in bytes:
// the part of VmRSS (netlab.RSS) that is file pages, the executable's
// above all.
func rssFile(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		v, err := statusKB(string(b), "RssFile:")
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
		total += v
	}
	return total, nil
}

// statusKB is the value of a /proc/PID/status line such as
// "RssFile:	   13100 kB", in bytes.
func statusKB(status, key string) (int64, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("%s %q: want a number of kB", key, strings.TrimSpace(rest))
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", key, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s line", strings.TrimSuffix(key, ":"))
}

// killProcess sends SIGKILL to p and waits until it is gone.
func killProcess(p *netlab.Process) error {
	if err := p.Kill(); err != nil {
		return err
	}
	<-p.Done()
	return nil
}
