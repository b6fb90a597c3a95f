package show

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// NotConfigured is what every show command prints when the configuration
// has no `service conntrack-sync` node (CS-C01).
const NotConfigured = "Conntrack-sync is not configured.\n"

// guideTimeLayout is the time of `last state transition` as the guide
// prints it (CS-O01: "Fri Jul 9 23:15:26 GMT 2010", the day not padded),
// in the host's time zone (CS-Q11).
const guideTimeLayout = "Mon Jan 2 15:04:05 MST 2006"

// guideTime prints t in the guide's layout in loc.
func guideTime(t *timestamppb.Timestamp, loc *time.Location) string {
	return t.AsTime().In(loc).Format(guideTimeLayout)
}

// logTimeLayout is the timestamp of log and monitor lines: UTC, to the
// millisecond, sortable (as clusterd's).
const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// age prints how long before now t was, compactly ("1.4s ago", "3m12s
// ago"), or "never" when t is absent.
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
		d = 0 // the clocks of the two nodes may disagree a little
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

// short prints a duration that is usually below a second with two or
// three significant digits ("3.4ms", "388ms", "1.25s"), for commit times.
func short(d *durationpb.Duration) string {
	v := d.AsDuration()
	if v < 10*time.Millisecond {
		return v.Round(100 * time.Microsecond).String()
	}
	return v.Round(time.Millisecond).String()
}

// plural is "1 entry" / "3 entries".
func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
