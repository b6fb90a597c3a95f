package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/clock"
)

// jsonLines decodes buf's JSON log lines to "msg key=…" summaries.
func jsonLines(t *testing.T, buf *bytes.Buffer) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		s := rec["level"].(string) + " " + rec["msg"].(string)
		for _, attr := range []string{"key", "n", "last"} {
			if v, ok := rec[attr]; ok {
				s += " " + attr + "=" + strings.TrimSuffix(strings.TrimPrefix(jsonString(v), `"`), `"`)
			}
		}
		out = append(out, s)
	}
	buf.Reset()
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRateLimited(t *testing.T) {
	var buf bytes.Buffer
	log, _ := NewLogger(&buf, LogJSON, slog.LevelDebug)
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rl := NewRateLimited(log, fake, 2, 10*time.Second)
	ctx := context.Background()
	garbage := func(key string, level slog.Level, n int) {
		rl.Log(ctx, level, key, "dropped bad advert", "n", n)
	}

	for n := 1; n <= 5; n++ {
		garbage("bad-auth/eth0/99", slog.LevelWarn, n)
	}
	garbage("bad-auth/eth1/2", slog.LevelInfo, 1) // another key has its own budget
	fake.Advance(5 * time.Second)
	garbage("bad-auth/eth0/99", slog.LevelError, 6) // still the first interval
	if got, want := jsonLines(t, &buf), []string{
		"WARN dropped bad advert n=1",
		"WARN dropped bad advert n=2",
		"INFO dropped bad advert n=1",
	}; !slices.Equal(got, want) {
		t.Errorf("during the interval logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	fake.Advance(5 * time.Second)
	if got, want := jsonLines(t, &buf), []string{
		// At the highest level suppressed, so an error is not hidden in a
		// warning.
		"ERROR suppressed 4 similar messages key=bad-auth/eth0/99 last=dropped bad advert",
	}; !slices.Equal(got, want) {
		t.Errorf("at the end of the interval logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	garbage("bad-auth/eth0/99", slog.LevelWarn, 7) // a new interval
	fake.Advance(10 * time.Second)
	if got, want := jsonLines(t, &buf), []string{"WARN dropped bad advert n=7"}; !slices.Equal(got, want) {
		t.Errorf("in the next interval logged %q, want %q (and no summary: nothing was suppressed)", got, want)
	}
	if fake.Waiters() != 0 {
		t.Errorf("%d timers still armed with no key active", fake.Waiters())
	}
}
