package engine

import (
	"maps"
	"slices"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// The kernel announces no event when a NAT helper changes an entry's
// sequence adjustment: nf_nat_ftp lengthening a PASV reply (the VIP
// written over the server's address) shifts the control connection's
// sequence numbers silently, and a new master without the shift stalls
// the connection. The engine therefore keeps the keys of the entries
// that can change so — a helper attached and NAT — and reads them again
// from the kernel: right after their helper announces an expectation
// (it rewrote their packet at that moment), once more a little later
// (the rewrite may follow the announcement), and every silentEvery.
const (
	silentEvery = 2 * time.Second
	// silentSecondLook is the second read after an expectation: the helper
	// creates the expectation, then rewrites the packet.
	silentSecondLook = 50 * time.Millisecond
	// maxSilent bounds the watched entries (and one refresh's requests);
	// past it the others are caught by resyncs only.
	maxSilent = 4096
)

// silentWatch is the set of entries read again.
type silentWatch struct {
	keys map[ct.Key]struct{}
	// next is the periodic refresh; soon a second look owed after an
	// expectation (zero: none).
	next, soon time.Time
	// full counts the entries not watched because the set was full;
	// warned: the log has said so.
	full   uint64
	warned bool
}

func newSilentWatch(now time.Time) *silentWatch {
	return &silentWatch{keys: map[ct.Key]struct{}{}, next: now.Add(silentEvery)}
}

// mayChangeSilently: a helper's NAT can lengthen the entry's packets.
func mayChangeSilently(e *ct.Entry) bool {
	return e.Helper != "" && e.Status&(ct.StatusSrcNAT|ct.StatusDstNAT) != 0
}

// note follows an entry's event.
func (w *silentWatch) note(kind cache.EventKind, e *ct.Entry) {
	switch {
	case kind == cache.Destroy:
		if len(w.keys) > 0 {
			delete(w.keys, e.Key())
		}
	case mayChangeSilently(e):
		w.add(e.Key())
	}
}

func (w *silentWatch) add(k ct.Key) {
	if _, ok := w.keys[k]; ok {
		return
	}
	if len(w.keys) >= maxSilent {
		w.full++
		return
	}
	w.keys[k] = struct{}{}
}

// due is the next refresh.
func (w *silentWatch) due() time.Time {
	if !w.soon.IsZero() && w.soon.Before(w.next) {
		return w.soon
	}
	return w.next
}

// refreshSilent reads keys again from the kernel and submits what
// changed, as a resync would (the timeout alone is no change).
func (e *Engine) refreshSilent(r *syncRun, now time.Time, keys []ct.Key) {
	if len(keys) == 0 {
		return
	}
	res, err := r.kernel.Get(e.ctx, func(yield func(ct.Key) bool) {
		for _, k := range keys {
			if !yield(k) {
				return
			}
		}
	}, func(v *ct.Entry) {
		if !e.carriable(v) {
			return
		}
		if ch, ok := r.internal.Refresh(v); ok {
			e.submit(r, now, entryRecord(ch))
		}
	})
	e.flushSubmit(r, now)
	if err != nil || res.Failed > 0 {
		e.log.Warn("cannot read helper-NATed connections again from the kernel; their sequence adjustments may be stale at the peer until the next try",
			"entries", len(keys), "failed", res.Failed, "first_errors", res.Errors, "err", err)
	}
}

// refreshSilentDue runs the periodic refresh and the second look when due.
func (e *Engine) refreshSilentDue(r *syncRun, now time.Time) {
	w := r.silent
	if now.Before(w.due()) {
		return
	}
	if !now.Before(w.next) {
		w.next = now.Add(silentEvery)
	}
	w.soon = time.Time{}
	if w.full > 0 && !w.warned {
		w.warned = true
		e.log.Warn("more helper-NATed connections than are read again for silent changes; the others' sequence adjustments reach the peer only with a resync",
			"watched", len(w.keys), "not_watched", w.full)
	}
	e.refreshSilent(r, now, slices.Collect(maps.Keys(w.keys)))
}

// expectationsSeen reads again, at once, the watched masters of the
// expectations a batch of events announced, and owes them a second look
// (silentSecondLook): their helper has just rewritten one of their
// packets. Their updates then reach the peer before the expectations.
func (e *Engine) expectationsSeen(r *syncRun, now time.Time, xs []expectEvent) {
	var masters []ct.Key
	for i := range xs {
		if xs[i].kind != cache.New {
			continue
		}
		k := ct.Key{Orig: xs[i].x.Master, Zone: xs[i].x.Zone}
		if _, ok := r.silent.keys[k]; ok && !slices.Contains(masters, k) {
			masters = append(masters, k)
		}
	}
	if len(masters) == 0 {
		return
	}
	e.refreshSilent(r, now, masters)
	if soon := now.Add(silentSecondLook); r.silent.soon.IsZero() || soon.Before(r.silent.soon) {
		r.silent.soon = soon
	}
}
