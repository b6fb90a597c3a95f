//go:build e2e

package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// daemon is one of the two replication daemons compared.
type daemon struct {
	name string
	// missing says why the daemon cannot run here ("" when it can): its
	// half of every benchmark then skips with that message.
	missing func() string
	version func() string
	// start runs the daemon on R1 (the primary, whose table the generator
	// fills) and R2 (the backup), tuned for the benchmark or with default
	// settings, and returns once both are up and hear each other. Both
	// kernel tables are empty.
	start func(ctx context.Context, lab *netlab.Lab, dir string, defaults bool) (pair, error)
}

// pair is a running daemon on R1 and R2.
type pair interface {
	// external is the number of entries in R2's external cache.
	external(ctx context.Context) (int, error)
	// failPrimary kills R1's sync daemon, as a router's failure would.
	// In one kernel the lab's namespaces share netlink's listener masks:
	// while R1's daemon listens for new connections, every insert in R2
	// builds an event nobody in R2 receives, which doubled the commit's
	// time here; between two machines no such cost exists.
	failPrimary() error
	// takeover makes R2 commit its external cache into its kernel table
	// as it would on a failover, and returns once it has, with the
	// daemon's own figure for the commit's duration (0 without one).
	takeover(ctx context.Context) (time.Duration, error)
	// pids are the daemon's processes on node "r1" or "r2".
	pids(node string) []int
	// overruns are the event-socket overruns R1's daemon counted.
	overruns(ctx context.Context) (int, error)
	// stop ends both daemons.
	stop() error
}

// daemons are compared in this order in every benchmark: the reference
// first.
var daemons = []daemon{conntrackdDaemon, ctsyncdDaemon}

// env is one lab a daemon's trials run in, with a generator on each
// router and a reader of R2's table size.
type env struct {
	lab        *netlab.Lab
	r1, r2     *netlab.Node
	gen1, gen2 *generator
	count2     *counter
	dir        string
	log        *trialLog
	trial      int
}

// trialDir is a fresh directory for one trial's daemon files.
func (e *env) trialDir() string {
	e.trial++
	return filepath.Join(e.dir, fmt.Sprintf("trial%d", e.trial))
}

// inLab builds a lab, runs f in it and tears it down.
func inLab(b *testing.B, f func(ctx context.Context, e *env) error) error {
	log := &trialLog{}
	ctx := b.Context()
	lab, err := newLab(ctx, log)
	if err != nil {
		return err
	}
	defer lab.Close()
	e := &env{lab: lab, r1: lab.Node("r1"), r2: lab.Node("r2"), dir: b.TempDir(), log: log}
	if e.gen1, err = newGenerator(e.r1); err != nil {
		return err
	}
	defer e.gen1.Close()
	if e.gen2, err = newGenerator(e.r2); err != nil {
		return err
	}
	defer e.gen2.Close()
	if e.count2, err = openCounter(e.r2); err != nil {
		return err
	}
	defer e.count2.Close()
	if err := f(ctx, e); err != nil {
		return fmt.Errorf("%w\nlast lab log lines:\n%s", err, log.tail(20))
	}
	return nil
}

// eachDaemon runs f as a sub-benchmark per daemon, skipping a daemon that
// cannot run here (ctsyncd until it is built) and saying so in the report.
func eachDaemon(b *testing.B, f func(b *testing.B, d daemon)) {
	netlab.RequirePrivileged(b)
	for _, d := range daemons {
		b.Run(d.name, func(b *testing.B) {
			if why := d.missing(); why != "" {
				report.skip(d.name, why)
				b.Skip(why)
			}
			report.setVersion(d.name, d.version())
			f(b, d)
		})
	}
}

// flushBoth empties both tables between trials (no daemon running).
func (e *env) flushBoth(ctx context.Context) error {
	return errors.Join(flush(ctx, e.r1), flush(ctx, e.r2))
}

// BenchmarkReplication: the time until R2's external cache holds N
// entries the generator put into R1's table as fast as the kernel took
// them, N = 10k and 100k; with 100k, also the daemons' RSS.
func BenchmarkReplication(b *testing.B) {
	eachDaemon(b, func(b *testing.B, d daemon) {
		for _, n := range []int{small, large} {
			res := replResult{Daemon: d.name, N: n}
			err := inLab(b, func(ctx context.Context, e *env) error {
				for range trials(b) {
					t, err := replicate(ctx, e, d, n, false, bound)
					if err == nil && t.Got < n {
						err = fmt.Errorf("R2's external cache holds %d of %d entries after %v", t.Got, n, bound)
					}
					if err != nil {
						res.Errors = append(res.Errors, err.Error())
						continue
					}
					b.Logf("%s N=%d: replicated in %v, kernel insert %v, %d overruns, RSS R1 %.1f MiB R2 %.1f MiB",
						d.name, n, t.Replicated, t.Insert, t.Overruns, benchdoc.MiB(t.RSS1), benchdoc.MiB(t.RSS2))
					res.Trials = append(res.Trials, t)
				}
				return nil
			})
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
			}
			report.addReplication(res)
		}
	})
	report.ran("replication")
}

// BenchmarkBurstDefaults: the same 100k burst with default settings,
// bounded at 60 s: conntrackd's default event buffer overruns and the
// peer is complete only after the resync 30 s later (FIELD-NOTES).
func BenchmarkBurstDefaults(b *testing.B) {
	eachDaemon(b, func(b *testing.B, d daemon) {
		res := replResult{Daemon: d.name, N: large, Defaults: true}
		err := inLab(b, func(ctx context.Context, e *env) error {
			for range benchdoc.EnvInt(b, "HASUITE_BENCH_BURST_TRIALS", 1) {
				t, err := replicate(ctx, e, d, large, true, bound)
				if err != nil {
					res.Errors = append(res.Errors, err.Error())
					continue
				}
				b.Logf("%s default settings, 100k burst: R2 holds %d after %v (kernel insert %v), %d overruns",
					d.name, t.Got, t.Replicated, t.Insert, t.Overruns)
				res.Trials = append(res.Trials, t)
			}
			return nil
		})
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		report.addReplication(res)
	})
	report.ran("burst")
}

// replicate runs one trial: both tables empty, the daemon pair started,
// n flows inserted on R1; it waits at most limit for R2's external
// cache to hold them (an incomplete trial is not an error: Got says how
// far it came).
func replicate(ctx context.Context, e *env, d daemon, n int, defaults bool, limit time.Duration) (replTrial, error) {
	var t replTrial
	if err := e.flushBoth(ctx); err != nil {
		return t, err
	}
	p, err := d.start(ctx, e.lab, e.trialDir(), defaults)
	if err != nil {
		return t, err
	}
	defer p.stop()
	type seen struct {
		at  time.Time
		got int
	}
	done := make(chan seen, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	go func() {
		at, got, _ := waitCount(pctx, limit, 5*time.Millisecond, n, p.external)
		done <- seen{at, got}
	}()
	t.Insert, err = e.gen1.insert(ctx, 0, n)
	if err != nil {
		cancel()
		<-done
		return t, err
	}
	s := <-done
	t.Replicated, t.Got = s.at.Sub(start), s.got
	if t.Overruns, err = p.overruns(ctx); err != nil {
		return t, err
	}
	if n >= large && t.Got >= n {
		pids1, pids2 := p.pids("r1"), p.pids("r2")
		if t.RSS1, err = netlab.RSS(pids1); err != nil {
			return t, err
		}
		if t.RSS2, err = netlab.RSS(pids2); err != nil {
			return t, err
		}
		if t.File1, err = rssFile(pids1); err != nil {
			return t, err
		}
		if t.File2, err = rssFile(pids2); err != nil {
			return t, err
		}
	}
	return t, nil
}

// BenchmarkCommit: the time to write 100k entries from R2's external
// cache into its kernel on takeover, beside the kernel's own batched
// insert rate with the same generator on an empty namespace.
func BenchmarkCommit(b *testing.B) {
	netlab.RequirePrivileged(b)
	for _, row := range []string{kernelRow, kernelListenerRow} {
		b.Run(row, func(b *testing.B) {
			res := commitResult{Daemon: row, N: large}
			err := inLab(b, func(ctx context.Context, e *env) error {
				for range trials(b) {
					took, err := kernelInsert(ctx, e, large, row == kernelListenerRow)
					if err != nil {
						res.Errors = append(res.Errors, err.Error())
						continue
					}
					b.Logf("%s: %d batched inserts in %v (%.0f/s)", row, large, took, rate(large, took))
					res.Trials = append(res.Trials, commitTrial{Wall: took, Span: took})
				}
				return nil
			})
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
			}
			report.addCommit(res)
		})
	}
	eachDaemon(b, func(b *testing.B, d daemon) {
		res := commitResult{Daemon: d.name, N: large}
		err := inLab(b, func(ctx context.Context, e *env) error {
			for range trials(b) {
				t, err := commit(ctx, e, d, large)
				if err != nil {
					res.Errors = append(res.Errors, err.Error())
					continue
				}
				b.Logf("%s: commit of %d: kernel span %v, wall %v, daemon's figure %v", d.name, large, t.Span, t.Wall, t.Own)
				res.Trials = append(res.Trials, t)
			}
			return nil
		})
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		report.addCommit(res)
	})
	report.ran("commit")
}

// kernelInsert times the generator inserting n flows into R2's empty
// table, with no daemon running; listener adds one event listener in R2
// draining every event (an 8 MiB buffer, as ctsyncd's default), which is
// what a daemon committing on takeover shares the kernel with
// (FIELD-NOTES: every listener halves the insert rate).
func kernelInsert(ctx context.Context, e *env, n int, listener bool) (time.Duration, error) {
	if err := flush(ctx, e.r2); err != nil {
		return 0, err
	}
	if listener {
		var l *ctnl.Listener
		err := e.r2.Do(func() error {
			var err error
			l, err = ctnl.Listen(ctnl.ListenerOptions{RcvBuf: 8 << 20, OnEntry: func(ctnl.EventKind, *ct.Entry, ctnl.Acct) {}})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("event listener in r2: %w", err)
		}
		lctx, cancel := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- l.Run(lctx) }()
		defer func() {
			cancel()
			<-ran
			l.Close()
		}()
	}
	return e.gen2.insert(ctx, 0, n)
}

// commit replicates n flows to R2 (untimed), then times R2's takeover:
// Span from the first entry in R2's table to the n-th, Wall from the
// takeover's start (`conntrackd -c`; ctsyncd: SIGTERM to R1's vrrpd) to
// the n-th, Own the daemon's figure.
func commit(ctx context.Context, e *env, d daemon, n int) (commitTrial, error) {
	var t commitTrial
	if err := e.flushBoth(ctx); err != nil {
		return t, err
	}
	p, err := d.start(ctx, e.lab, e.trialDir(), false)
	if err != nil {
		return t, err
	}
	defer p.stop()
	if _, err := e.gen1.insert(ctx, 0, n); err != nil {
		return t, err
	}
	if _, got, err := waitCount(ctx, bound, 20*time.Millisecond, n, p.external); err != nil {
		return t, fmt.Errorf("before the takeover, R2's external cache: %w (%d)", err, got)
	}
	if err := p.failPrimary(); err != nil {
		return t, fmt.Errorf("killing R1's daemon: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	watch := watchCount(wctx, e.count2, 0, n)
	start := time.Now()
	t.Own, err = p.takeover(ctx)
	if err != nil {
		cancel()
		<-watch
		return t, err
	}
	w := <-watch
	if w.Err != nil {
		return t, fmt.Errorf("after the takeover: %w", w.Err)
	}
	t.Wall, t.Span = w.Done.Sub(start), w.Done.Sub(w.First)
	return t, nil
}

// Churn: 5k new connections per second for 10 s, each deleted a second
// after its creation.
const (
	churnRate   = 5000
	churnWindow = 10 * time.Second
	churnLife   = time.Second
)

// BenchmarkChurn: the daemons' CPU while R1's table sees churnRate new
// connections (and as many deletions) per second.
func BenchmarkChurn(b *testing.B) {
	eachDaemon(b, func(b *testing.B, d daemon) {
		res := churnResult{Daemon: d.name}
		err := inLab(b, func(ctx context.Context, e *env) error {
			for range trials(b) {
				t, err := churn(ctx, e, d)
				if err != nil {
					res.Errors = append(res.Errors, err.Error())
					continue
				}
				b.Logf("%s at %d/s: CPU R1 %.1f %%, R2 %.1f %% of a core over %v; R2 in step after %v",
					d.name, churnRate, t.CPU1, t.CPU2, t.Window, t.Settled)
				res.Trials = append(res.Trials, t)
			}
			return nil
		})
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		report.addChurn(res)
	})
	report.ran("churn")
}

func churn(ctx context.Context, e *env, d daemon) (churnTrial, error) {
	var t churnTrial
	if err := e.flushBoth(ctx); err != nil {
		return t, err
	}
	p, err := d.start(ctx, e.lab, e.trialDir(), false)
	if err != nil {
		return t, err
	}
	defer p.stop()
	pids := [][]int{p.pids("r1"), p.pids("r2")}
	var cpu0 [2]time.Duration
	for i := range pids {
		if cpu0[i], err = netlab.CPUTime(pids[i]); err != nil {
			return t, err
		}
	}
	s, err := e.gen1.churn(ctx, churnRate, churnWindow, churnLife)
	if err != nil {
		return t, err
	}
	for i, pct := range []*float64{&t.CPU1, &t.CPU2} {
		cpu1, err := netlab.CPUTime(pids[i])
		if err != nil {
			return t, err
		}
		*pct = 100 * (cpu1 - cpu0[i]).Seconds() / s.Elapsed.Seconds()
	}
	t.Window, t.Created = s.Elapsed, s.Created
	// R2 in step: its external cache holds what R1's table holds.
	live := s.Created - s.Deleted
	end := time.Now()
	at, got, err := waitCount(ctx, 10*time.Second, 20*time.Millisecond, live, func(ctx context.Context) (int, error) {
		n, err := p.external(ctx)
		if n > live {
			n = -n // more than live: destroys not yet applied
		}
		return n, err
	})
	if err != nil {
		return t, fmt.Errorf("after the churn R2's external cache is not R1's table (%d live): %d: %w", live, got, err)
	}
	t.Settled = at.Sub(end)
	return t, nil
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
