package daemon

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLogRingSize is how many records a daemon keeps for `show log`:
// enough for a failover's story, a few hundred KiB at most.
const DefaultLogRingSize = 1000

// LogEntry is one log record as `show log` and `monitor` print it: the
// attributes resolved to text, with the logger's own (With) attributes
// first and group names joined to keys with dots, as slog's text handler
// does.
type LogEntry struct {
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   []LogAttr
}

// LogAttr is one attribute of a LogEntry.
type LogAttr struct{ Key, Value string }

// Attr returns the value of the first attribute named key.
func (e LogEntry) Attr(key string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// LogRing keeps a daemon's most recent log records in memory, so the
// daemon can answer `show log` without a journal, and hands records to live
// subscribers (`monitor`). Wrap the daemon's handler with Handler: the ring
// keeps exactly what that handler writes, and a subscriber may ask for
// records below the daemon's level (monitor --debug) without them reaching
// the log. A subscriber that does not keep up loses records, counted, and
// never slows the code that logs. Safe for concurrent use.
type LogRing struct {
	mu      sync.Mutex
	entries []LogEntry // a ring: next is the oldest once full
	next    int
	full    bool
	subs    map[*LogSubscription]struct{}
	// subLevel is the lowest level any subscriber wants, math.MaxInt64
	// without subscribers; read without the lock by Enabled.
	subLevel atomic.Int64
}

// NewLogRing returns a ring keeping the last size records (at least one).
func NewLogRing(size int) *LogRing {
	r := &LogRing{entries: make([]LogEntry, max(size, 1)), subs: map[*LogSubscription]struct{}{}}
	r.subLevel.Store(math.MaxInt64)
	return r
}

// Handler returns next wrapped so that what next writes is also kept in
// the ring and sent to the subscribers.
func (r *LogRing) Handler(next slog.Handler) slog.Handler {
	return &ringHandler{ring: r, next: next}
}

// Last returns up to n of the most recent records, oldest first; n <= 0
// returns every record kept.
func (r *LogRing) Last(n int) []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []LogEntry
	if r.full {
		all = append(slices.Clone(r.entries[r.next:]), r.entries[:r.next]...)
	} else {
		all = slices.Clone(r.entries[:r.next])
	}
	if n > 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}

// Subscribe delivers every record from now on at level or above, written
// to the log or not, through a channel of buffer records (at least one).
// Close the subscription when done.
func (r *LogRing) Subscribe(level slog.Level, buffer int) *LogSubscription {
	s := &LogSubscription{ring: r, level: level, c: make(chan LogEntry, max(buffer, 1))}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[s] = struct{}{}
	r.updateSubLevel()
	return s
}

// updateSubLevel recomputes subLevel; the caller holds mu.
func (r *LogRing) updateSubLevel() {
	lowest := int64(math.MaxInt64)
	for s := range r.subs {
		lowest = min(lowest, int64(s.level))
	}
	r.subLevel.Store(lowest)
}

func (r *LogRing) subscribed(level slog.Level) bool { return int64(level) >= r.subLevel.Load() }

// add keeps e if the log wrote it and offers it to the subscribers.
func (r *LogRing) add(e LogEntry, written bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if written {
		r.entries[r.next] = e
		r.next++
		if r.next == len(r.entries) {
			r.next, r.full = 0, true
		}
	}
	for s := range r.subs {
		if e.Level < s.level {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// LogSubscription is one live reader of a LogRing.
type LogSubscription struct {
	ring    *LogRing
	level   slog.Level
	c       chan LogEntry
	dropped atomic.Uint64
	once    sync.Once
}

// Records delivers the records; it is closed by Close.
func (s *LogSubscription) Records() <-chan LogEntry { return s.c }

// Dropped counts the records lost because the channel was full.
func (s *LogSubscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes Records. It may be called more
// than once.
func (s *LogSubscription) Close() {
	s.once.Do(func() {
		r := s.ring
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, s)
		r.updateSubLevel()
		close(s.c) // under mu: add never sends to a closed channel
	})
}

// ringHandler is LogRing.Handler's slog.Handler.
type ringHandler struct {
	ring *LogRing
	next slog.Handler
	// attrs are the With attributes resolved; prefix is the open groups
	// ("a.b."), which only the record's own attributes are under.
	attrs  []LogAttr
	prefix string
}

func (h *ringHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level) || h.ring.subscribed(level)
}

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	written := h.next.Enabled(ctx, rec.Level)
	var err error
	if written {
		err = h.next.Handle(ctx, rec)
	}
	if !written && !h.ring.subscribed(rec.Level) {
		return err
	}
	e := LogEntry{Time: rec.Time, Level: rec.Level, Message: rec.Message, Attrs: slices.Clone(h.attrs)}
	rec.Attrs(func(a slog.Attr) bool {
		e.Attrs = appendAttr(e.Attrs, h.prefix, a)
		return true
	})
	h.ring.add(e, written)
	return err
}

func (h *ringHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.next = h.next.WithAttrs(attrs)
	h2.attrs = slices.Clip(slices.Clone(h.attrs))
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.next = h.next.WithGroup(name)
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr flattens a into out under prefix, following slog's rules:
// empty attributes vanish, groups nest with dots, a group without a key is
// inlined.
func appendAttr(out []LogAttr, prefix string, a slog.Attr) []LogAttr {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return out
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, member := range a.Value.Group() {
			out = appendAttr(out, prefix, member)
		}
		return out
	}
	return append(out, LogAttr{Key: prefix + a.Key, Value: a.Value.String()})
}
