package netio

import (
	"errors"
	"fmt"
	"time"
)

// Schedule says when a new master announces its virtual addresses (VR-B14),
// in the terms of keepalived's vrrp_garp_* settings. A round is one
// announcement of every virtual address; the rounds come in a burst at the
// transition, an optional second burst after SecondBurstDelay, then, if
// Refresh is set, RefreshRepeat rounds every Refresh for as long as the
// group stays master.
type Schedule struct {
	// Repeat is the number of rounds in each burst (vrrp_garp_master_repeat).
	Repeat int
	// Interval separates the rounds of a burst (vrrp_garp_interval); zero
	// sends them back to back.
	Interval time.Duration
	// SecondBurstDelay is when the second burst starts, counted from the
	// transition (vrrp_garp_master_delay); zero means no second burst.
	SecondBurstDelay time.Duration
	// Refresh separates the refresh rounds, counted from the last burst's
	// start (vrrp_garp_master_refresh); zero means none.
	Refresh time.Duration
	// RefreshRepeat is the number of rounds of each refresh
	// (vrrp_garp_master_refresh_repeat).
	RefreshRepeat int
}

// DefaultSchedule is keepalived's: a burst of 5 at the transition and
// another after 5 s, no refresh.
var DefaultSchedule = Schedule{Repeat: 5, SecondBurstDelay: 5 * time.Second}

// Validate reports a schedule whose rounds would overlap or never end.
func (s Schedule) Validate() error {
	var errs []error
	if s.Repeat < 1 {
		errs = append(errs, fmt.Errorf("repeat %d: a burst needs at least one round", s.Repeat))
	}
	if s.Interval < 0 || s.SecondBurstDelay < 0 || s.Refresh < 0 {
		errs = append(errs, errors.New("negative interval, delay or refresh: give durations of zero or more"))
	}
	if s.SecondBurstDelay > 0 && s.burstLen(s.Repeat) > s.SecondBurstDelay {
		errs = append(errs, fmt.Errorf("the first burst (%v) outlasts the second burst's delay (%v): lengthen the delay or shorten the interval", s.burstLen(s.Repeat), s.SecondBurstDelay))
	}
	if s.Refresh > 0 {
		if s.RefreshRepeat < 1 {
			errs = append(errs, fmt.Errorf("refresh repeat %d: a refresh needs at least one round", s.RefreshRepeat))
		}
		if s.burstLen(max(s.Repeat, s.RefreshRepeat)) > s.Refresh {
			errs = append(errs, fmt.Errorf("refresh %v is shorter than a burst or refresh of rounds %v apart: lengthen it", s.Refresh, s.Interval))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("netio: announcement schedule: %w", errors.Join(errs...))
	}
	return nil
}

// burstLen is how long rounds take from the first to the end of the last
// one's interval.
func (s Schedule) burstLen(rounds int) time.Duration { return time.Duration(rounds) * s.Interval }

// Due says, for a master of elapsed time that has already sent done
// rounds, how many rounds are due now and when, counted from the
// transition, the round after them is; more is false when no round follows.
// The engine calls it at the transition and at each next it returned, so
// rounds missed while it was busy are caught up rather than lost.
func (s Schedule) Due(elapsed time.Duration, done int) (due int, next time.Duration, more bool) {
	for {
		at, ok := s.offset(done + due)
		if !ok {
			return due, 0, false
		}
		if at > elapsed {
			return due, at, true
		}
		due++
	}
}

// offset is when round j is due, counted from the transition.
func (s Schedule) offset(j int) (time.Duration, bool) {
	if j < s.Repeat {
		return time.Duration(j) * s.Interval, true
	}
	j -= s.Repeat
	lastBurst := time.Duration(0)
	if s.SecondBurstDelay > 0 {
		if j < s.Repeat {
			return s.SecondBurstDelay + time.Duration(j)*s.Interval, true
		}
		j -= s.Repeat
		lastBurst = s.SecondBurstDelay
	}
	if s.Refresh <= 0 || s.RefreshRepeat < 1 {
		return 0, false
	}
	refresh, round := j/s.RefreshRepeat+1, j%s.RefreshRepeat
	return lastBurst + time.Duration(refresh)*s.Refresh + time.Duration(round)*s.Interval, true
}
