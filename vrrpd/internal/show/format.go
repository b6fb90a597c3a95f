package show

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// notAvailable stands for a value the daemon did not report.
const notAvailable = "n/a"

// separator is the guide's block separator line.
const separator = "-----"

// Elapsed formats the time from since to now as the guide's compact
// elapsed times: "0s", "16s", "1m20s", "1h2m3s", "3d4h5m6s", truncated to
// whole seconds. A missing timestamp is "n/a"; a timestamp in the future
// (the clock stepped back) counts as "0s".
func Elapsed(since *timestamppb.Timestamp, now time.Time) string {
	if since == nil {
		return notAvailable
	}
	return compactSeconds(now.Sub(since.AsTime()))
}

// compactSeconds formats d in whole seconds with every unit below the
// largest one present, as 1h0m5s rather than 1h5s, so columns read alike.
func compactSeconds(d time.Duration) string {
	total := int64(max(d, 0) / time.Second)
	units := []struct {
		suffix string
		size   int64
	}{{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}
	var b strings.Builder
	for _, u := range units {
		n := total / u.size
		total -= n * u.size
		if n > 0 || b.Len() > 0 || u.size == 1 {
			b.WriteString(strconv.FormatInt(n, 10))
			b.WriteString(u.suffix)
		}
	}
	return b.String()
}

// seconds formats a configured interval as the guide does: "1 sec", and
// "0.5 sec" for VRRPv3's centisecond intervals.
func seconds(d *durationpb.Duration) string {
	return strconv.FormatFloat(d.AsDuration().Seconds(), 'f', -1, 64) + " sec"
}

// precise formats a measured duration (takeover phases, gate waits) to
// the millisecond, or the microsecond below one millisecond.
func precise(d *durationpb.Duration) string {
	if d == nil {
		return notAvailable
	}
	v := d.AsDuration()
	if v < time.Millisecond {
		return v.Round(time.Microsecond).String()
	}
	return v.Round(time.Millisecond).String()
}

// stateName is a state as `show vrrp` prints it.
func stateName(s vrrpv1.State) string {
	switch s {
	case vrrpv1.State_STATE_INIT:
		return "INIT"
	case vrrpv1.State_STATE_BACKUP:
		return "BACKUP"
	case vrrpv1.State_STATE_MASTER:
		return "MASTER"
	case vrrpv1.State_STATE_FAULT:
		return "FAULT"
	case vrrpv1.State_STATE_DISABLED:
		return "DISABLED"
	}
	return "UNKNOWN"
}

// authName is an authentication type as the configuration spells it.
func authName(a vrrpv1.AuthType) string {
	switch a {
	case vrrpv1.AuthType_AUTH_TYPE_PLAINTEXT_PASSWORD:
		return "plaintext-password"
	case vrrpv1.AuthType_AUTH_TYPE_AH:
		return "ah"
	}
	return "none"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func enabledDisabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// groupName is a group as the guide names it in messages: "eth1.4001-200".
func groupName(interfaceName string, group uint32) string {
	return interfaceName + "-" + strconv.FormatUint(uint64(group), 10)
}

// orNA returns s, or "n/a" when it is empty.
func orNA(s string) string {
	if s == "" {
		return notAvailable
	}
	return s
}

// table lays out rows in space-aligned columns: each column is as wide as
// its widest cell plus gap, and no less than its minimum width. Trailing
// blanks are dropped, so empty last cells leave no whitespace behind.
type table struct {
	minWidths []int
	gap       int
	rows      [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	widths := append([]int(nil), t.minWidths...)
	for _, row := range t.rows {
		for i, cell := range row[:len(row)-1] {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(cell)+t.gap)
		}
	}
	var b strings.Builder
	for _, row := range t.rows {
		var line strings.Builder
		for i, cell := range row {
			line.WriteString(cell)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-len(cell)))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}
