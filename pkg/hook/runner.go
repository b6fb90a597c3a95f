package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hasuite/hasuite/pkg/clock"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultKillGrace      = 5 * time.Second
	DefaultMaxPending     = 4
	DefaultMaxOutputBytes = 64 << 10
)

// Reasons a Result carries in Err besides the script's own failure; test for
// them with errors.Is.
var (
	// ErrTimedOut: the script outlived its timeout and was terminated.
	ErrTimedOut = errors.New("timed out")
	// ErrDropped: the job waited in a full queue and a newer job for the
	// same key replaced it; it never ran.
	ErrDropped = errors.New("dropped from a full queue")
	// ErrClosed: the Runner was closed before the job could finish. Submit
	// returns it once Close has been called.
	ErrClosed = errors.New("hook runner closed")
)

// Options configure a Runner. The zero value is usable.
type Options struct {
	// ScriptsDir is where relative script names are found (Resolve);
	// empty means DefaultDir.
	ScriptsDir string
	// Logger receives the scripts' output and one line per run; nil
	// discards.
	Logger *slog.Logger
	// Clock times runs and arms their timeouts; nil means clock.Real().
	Clock clock.Clock
	// Timeout bounds a run whose Job sets none (DefaultTimeout if zero).
	Timeout time.Duration
	// KillGrace is how long a timed-out script has between SIGTERM and
	// SIGKILL (DefaultKillGrace if zero).
	KillGrace time.Duration
	// MaxPending bounds the jobs waiting per key behind the running one
	// (DefaultMaxPending if zero). When a job arrives at a full queue the
	// oldest waiting job is dropped: the newest job always runs, because
	// for a flapping VRRP group the script of the state it ended in is the
	// one that matters.
	MaxPending int
	// MaxOutputBytes bounds how much of one run's output is logged
	// (DefaultMaxOutputBytes if zero); the rest is read and discarded, and
	// one line says how much was dropped.
	MaxOutputBytes int
}

// Job is one script run.
type Job struct {
	// Script is the script's name, resolved against Options.ScriptsDir
	// when the job starts.
	Script string
	Args   []string
	// Env holds extra "NAME=value" entries such as "HASUITE_STATE=MASTER".
	// They are added to a minimal base: PATH and LANG taken from the
	// daemon (PATH defaulting to the standard system directories), and
	// nothing else the daemon inherited. Env wins over the base.
	Env []string
	// Timeout overrides Options.Timeout when positive.
	Timeout time.Duration
	// Done, if set, receives the Result exactly once for every submitted
	// job, ran or not. It is called on the key's worker goroutine, so it
	// must not block for long: the key's next job waits for it. It may call
	// Submit.
	Done func(Result)
}

// Result says how a job ended.
type Result struct {
	Key    string
	Script string // the resolved path
	// ExitCode is the script's exit status, or -1 if it did not exit on its
	// own (killed by a signal, never started, dropped).
	ExitCode int
	Duration time.Duration
	// TimedOut: the script outlived its timeout and its process group was
	// sent SIGTERM.
	TimedOut bool
	// Killed: the script was killed with SIGKILL (with its process group)
	// because it ignored SIGTERM for the grace period after its timeout,
	// or because Close ran out of time.
	Killed bool
	// Err is nil exactly when the script ran and exited with status 0.
	Err error
	// Output holds the last lines of output (stdout and stderr merged),
	// for status displays and error reports.
	Output []string
	// OutputTruncated: some output was not logged (see
	// Options.MaxOutputBytes).
	OutputTruncated bool
}

// Runner runs Jobs, serialised per key. It starts nothing until a job is
// submitted, and each key's worker goroutine exits when its queue is empty.
type Runner struct {
	opts Options
	log  *slog.Logger

	// abort is cancelled when Close gives up waiting: running scripts are
	// killed and queued jobs end with ErrClosed.
	abort       context.Context
	cancelAbort context.CancelFunc

	mu      sync.Mutex
	queues  map[string]*queue
	closed  bool
	workers sync.WaitGroup
}

// queue holds one key's jobs waiting behind the running one, and the jobs
// dropped from it whose Done has yet to be called by the key's worker.
type queue struct {
	pending []Job
	dropped []Job
}

// NewRunner returns a Runner; it starts no goroutine.
func NewRunner(opts Options) *Runner {
	if opts.ScriptsDir == "" {
		opts.ScriptsDir = DefaultDir
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultKillGrace
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutputBytes
	}
	abort, cancel := context.WithCancel(context.Background())
	return &Runner{
		opts:        opts,
		log:         opts.Logger,
		abort:       abort,
		cancelAbort: cancel,
		queues:      make(map[string]*queue),
	}
}

// Submit queues job to run after every job already submitted for key and
// returns at once. It fails only with ErrClosed, after Close; job.Done is
// then not called.
func (r *Runner) Submit(key string, job Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("submitting script %s for %s: %w", job.Script, key, ErrClosed)
	}
	q, busy := r.queues[key]
	if !busy {
		q = &queue{}
		r.queues[key] = q
		r.workers.Add(1)
		go r.work(key, q)
	}
	q.pending = append(q.pending, job)
	if len(q.pending) > r.opts.MaxPending {
		oldest := q.pending[0]
		q.pending = q.pending[1:]
		q.dropped = append(q.dropped, oldest)
		r.log.Warn("script queue full, dropping the oldest waiting run",
			"key", key, "script", oldest.Script, "args", oldest.Args, "max_pending", r.opts.MaxPending)
	}
	return nil
}

// work runs key's jobs until its queue is empty.
func (r *Runner) work(key string, q *queue) {
	defer r.workers.Done()
	for {
		r.mu.Lock()
		dropped := q.dropped
		q.dropped = nil
		if len(q.pending) == 0 && len(dropped) == 0 {
			delete(r.queues, key)
			r.mu.Unlock()
			return
		}
		var job Job
		var haveJob bool
		if len(q.pending) > 0 {
			job, q.pending, haveJob = q.pending[0], q.pending[1:], true
		}
		r.mu.Unlock()

		for _, d := range dropped {
			path := Resolve(r.opts.ScriptsDir, d.Script)
			finish(d, Result{Key: key, Script: path, ExitCode: -1,
				Err: fmt.Errorf("script %s for %s: %w", path, key, ErrDropped)})
		}
		if haveJob {
			finish(job, r.run(key, job))
		}
	}
}

func finish(job Job, res Result) {
	if job.Done != nil {
		job.Done(res)
	}
}

// Close stops accepting jobs and waits until every queued and running job
// has finished. If ctx ends first, running scripts are killed (SIGKILL to
// their process groups), jobs still queued end with ErrClosed without
// running, and Close returns once all of that is done, with ctx's error.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()

	idle := make(chan struct{})
	go func() {
		r.workers.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		r.cancelAbort()
		return nil
	case <-ctx.Done():
		r.cancelAbort()
		<-idle
		return fmt.Errorf("closing hook runner: killed the scripts still running: %w", context.Cause(ctx))
	}
}
