package show

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// timeLayout is the timestamp of every absolute time printed: UTC, to the
// millisecond, sortable.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// age prints how long before now t was, compactly ("1.4s ago", "3m12s
// ago", "2d3h ago"), or "never" when t is absent.
func age(now time.Time, t *timestamppb.Timestamp) string {
	if t == nil {
		return "never"
	}
	return compact(now.Sub(t.AsTime())) + " ago"
}

// compact prints a duration with at most two units, tenths of a second
// below a minute.
func compact(d time.Duration) string {
	if d < 0 {
		d = 0 // clocks of the two nodes may disagree a little
	}
	switch {
	case d < time.Minute:
		s := fmt.Sprintf("%.1f", d.Seconds())
		return strings.TrimSuffix(s, ".0") + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// stamp prints t absolute and as an age: "2026-11-23T11:58:00.000Z (2m0s
// ago)", or "never".
func stamp(now time.Time, t *timestamppb.Timestamp) string {
	if t == nil {
		return "never"
	}
	return t.AsTime().UTC().Format(timeLayout) + " (" + age(now, t) + ")"
}

// field writes an indented "Label:" padded to a column, then the value.
func field(b *strings.Builder, indent, label string, width int, value any) {
	fmt.Fprintf(b, "%s%-*s %v\n", indent, width, label+":", value)
}

func times(n uint64) string {
	if n == 1 {
		return "1 time"
	}
	return fmt.Sprintf("%d times", n)
}
