package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hasuite/hasuite/pkg/clock"
)

// RateLimited logs lines that can repeat once per packet (network garbage,
// a flapping link) without flooding the journal: per key, at most Burst
// lines in each Interval, and when the interval ends one line saying how
// many similar lines were suppressed.
//
// Keys name a kind of event at a place, such as "bad-auth/eth0/99", and
// should be few: each key active in the current interval costs a map entry
// and a timer. Never key by a value an attacker chooses, like a source
// address; put that in the line's attributes instead.
type RateLimited struct {
	log      *slog.Logger
	clock    clock.Clock
	burst    int
	interval time.Duration

	mu      sync.Mutex
	windows map[string]*window
}

// window counts one key's lines in the current interval.
type window struct {
	logged     int
	suppressed int
	level      slog.Level // the highest level suppressed
	lastMsg    string
}

// NewRateLimited returns a RateLimited logging to log at most burst lines
// per key per interval, timed by clk.
func NewRateLimited(log *slog.Logger, clk clock.Clock, burst int, interval time.Duration) *RateLimited {
	if burst < 1 || interval <= 0 {
		panic(fmt.Sprintf("daemon: rate limit of %d lines per %v is not a limit", burst, interval))
	}
	return &RateLimited{log: log, clock: clk, burst: burst, interval: interval, windows: make(map[string]*window)}
}

// Log logs msg with args at level, unless key has used up its lines for the
// current interval; then it only counts the line.
func (r *RateLimited) Log(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	r.mu.Lock()
	w, open := r.windows[key]
	if !open {
		w = &window{}
		r.windows[key] = w
		r.clock.AfterFunc(r.interval, func() { r.closeWindow(key) })
	}
	if w.logged < r.burst {
		w.logged++
		r.mu.Unlock()
		r.log.Log(ctx, level, msg, args...)
		return
	}
	if w.suppressed == 0 || level > w.level {
		w.level = level
	}
	w.suppressed++
	w.lastMsg = msg
	r.mu.Unlock()
}

// closeWindow ends key's interval, reporting what it suppressed.
func (r *RateLimited) closeWindow(key string) {
	r.mu.Lock()
	w := r.windows[key]
	delete(r.windows, key)
	r.mu.Unlock()
	if w.suppressed > 0 {
		r.log.Log(context.Background(), w.level, fmt.Sprintf("suppressed %d similar messages", w.suppressed),
			"key", key, "last", w.lastMsg, "interval", r.interval)
	}
}
