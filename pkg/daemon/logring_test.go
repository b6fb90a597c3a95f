package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// newRingLogger is a text logger at level wrapped by a ring of size.
func newRingLogger(size int, level slog.Level) (*slog.Logger, *LogRing, *slog.LevelVar, *bytes.Buffer) {
	var buf bytes.Buffer
	levelVar := new(slog.LevelVar)
	levelVar.Set(level)
	ring := NewLogRing(size)
	return slog.New(ring.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: levelVar}))), ring, levelVar, &buf
}

func messages(entries []LogEntry) string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Message)
	}
	return strings.Join(out, ",")
}

func TestLogRingKeepsTheLastRecordsOldestFirst(t *testing.T) {
	log, ring, _, _ := newRingLogger(3, slog.LevelInfo)
	if got := ring.Last(0); len(got) != 0 {
		t.Fatalf("empty ring: Last = %v", got)
	}
	log.Info("a")
	log.Info("b")
	if got := messages(ring.Last(0)); got != "a,b" {
		t.Errorf("before wrapping: %q, want a,b", got)
	}
	for _, m := range []string{"c", "d", "e"} {
		log.Info(m)
	}
	tests := []struct {
		n    int
		want string
	}{{0, "c,d,e"}, {-1, "c,d,e"}, {2, "d,e"}, {3, "c,d,e"}, {1000, "c,d,e"}}
	for _, tt := range tests {
		if got := messages(ring.Last(tt.n)); got != tt.want {
			t.Errorf("Last(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestLogRingKeepsWhatTheLogWrites(t *testing.T) {
	log, ring, level, buf := newRingLogger(10, slog.LevelInfo)
	log.Debug("hidden")
	log.Info("shown")
	level.Set(slog.LevelDebug) // `debug vrrp on`
	log.Debug("now shown")
	if got := messages(ring.Last(0)); got != "shown,now shown" {
		t.Errorf("ring holds %q, want what the log wrote: shown,now shown", got)
	}
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "now shown") {
		t.Errorf("the wrapped handler wrote %q", buf.String())
	}
}

func TestLogRingAttributes(t *testing.T) {
	log, ring, _, buf := newRingLogger(10, slog.LevelInfo)
	log = log.With("component", "engine").WithGroup("vrrp").With("group", "eth0/99")
	log.Info("transition", "to", "MASTER", slog.Group("vip", "addr", "10.0.0.1"), slog.Group("", "inline", 1),
		"err", errors.New("boom"), "took", 1500*time.Millisecond, slog.Attr{})
	got := ring.Last(1)[0]
	var attrs []string
	for _, a := range got.Attrs {
		attrs = append(attrs, a.Key+"="+a.Value)
	}
	want := "component=engine vrrp.group=eth0/99 vrrp.to=MASTER vrrp.vip.addr=10.0.0.1 vrrp.inline=1 vrrp.err=boom vrrp.took=1.5s"
	if strings.Join(attrs, " ") != want {
		t.Errorf("attributes\n got %s\nwant %s", strings.Join(attrs, " "), want)
	}
	if v, ok := got.Attr("vrrp.group"); !ok || v != "eth0/99" {
		t.Errorf("Attr(vrrp.group) = %q, %v", v, ok)
	}
	if _, ok := got.Attr("missing"); ok {
		t.Error("Attr(missing) found")
	}
	// The wrapped handler sees the same groups and attributes.
	if !strings.Contains(buf.String(), "component=engine vrrp.group=eth0/99 vrrp.to=MASTER") {
		t.Errorf("wrapped handler wrote %q", buf.String())
	}
	if got.Level != slog.LevelInfo || got.Time.IsZero() {
		t.Errorf("level %v time %v", got.Level, got.Time)
	}
}

func TestLogRingSubscribersMayAskBelowTheLogLevel(t *testing.T) {
	log, ring, _, buf := newRingLogger(10, slog.LevelInfo)
	debug := ring.Subscribe(slog.LevelDebug, 10)
	defer debug.Close()
	warn := ring.Subscribe(slog.LevelWarn, 10)
	defer warn.Close()

	log.Debug("detail")
	log.Info("info")
	log.Warn("careful")
	if got := messages(drain(debug)); got != "detail,info,careful" {
		t.Errorf("debug subscriber got %q", got)
	}
	if got := messages(drain(warn)); got != "careful" {
		t.Errorf("warn subscriber got %q", got)
	}
	if strings.Contains(buf.String(), "detail") || messages(ring.Last(0)) != "info,careful" {
		t.Errorf("a debug subscriber must not put debug records in the log: log %q, ring %q", buf.String(), messages(ring.Last(0)))
	}

	debug.Close()
	debug.Close() // twice is fine
	if _, open := <-debug.Records(); open {
		t.Error("Records still open after Close")
	}
	if log.Enabled(t.Context(), slog.LevelDebug) {
		t.Error("debug still enabled once the debug subscriber left")
	}
}

// drain reads what is buffered now.
func drain(s *LogSubscription) []LogEntry {
	var out []LogEntry
	for {
		select {
		case e := <-s.Records():
			out = append(out, e)
		default:
			return out
		}
	}
}

// A subscriber that never reads loses records, counted, and the logger
// never waits for it.
func TestLogRingSlowSubscriberNeverBlocks(t *testing.T) {
	log, ring, _, _ := newRingLogger(10, slog.LevelInfo)
	slow := ring.Subscribe(slog.LevelInfo, 2)
	defer slow.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			log.Info(fmt.Sprint(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("logging blocked on a subscriber that does not read")
	}
	if got := messages(drain(slow)); got != "0,1" {
		t.Errorf("slow subscriber got %q, want the first two", got)
	}
	if slow.Dropped() != 98 {
		t.Errorf("Dropped = %d, want 98", slow.Dropped())
	}
}

func TestLogRingConcurrentUse(t *testing.T) {
	log, ring, _, _ := newRingLogger(50, slog.LevelInfo)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				log.Info("m", "writer", w, "i", i)
				if i%50 == 0 {
					s := ring.Subscribe(slog.LevelDebug, 4)
					ring.Last(10)
					s.Close()
				}
			}
		})
	}
	wg.Wait()
	if n := len(ring.Last(0)); n != 50 {
		t.Errorf("ring holds %d records, want 50", n)
	}
}
