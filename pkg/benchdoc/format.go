package benchdoc

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Stats are the median, minimum and maximum of samples; ok is false when
// there are none. The median of an even count is the mean of the middle
// two (truncated for integers).
func Stats[T ~int64 | ~float64](samples []T) (median, lo, hi T, ok bool) {
	if len(samples) == 0 {
		return 0, 0, 0, false
	}
	s := slices.Sorted(slices.Values(samples))
	median = s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return median, s[0], s[len(s)-1], true
}

// MsNum is d in milliseconds without the unit, one decimal below 100 ms
// either side of zero (a takeover after expiry can be negative).
func MsNum(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 100 && v > -100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// Ms is MsNum with the unit: "12.5 ms".
func Ms(d time.Duration) string { return MsNum(d) + " ms" }

// MiB is b bytes in MiB, for a %.1f.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// Seconds is d rounded to whole seconds: "30 s".
func Seconds(d time.Duration) string { return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds())) }

// FirstLine is s up to its first newline, cut at 300 bytes: an error in a
// table's notes, without the log lines that follow it.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}
