package netio

import (
	"strings"
	"testing"
	"time"
)

func TestScheduleDue(t *testing.T) {
	refreshing := Schedule{Repeat: 2, Interval: 100 * time.Millisecond, SecondBurstDelay: 5 * time.Second,
		Refresh: 60 * time.Second, RefreshRepeat: 1}
	tests := []struct {
		name     string
		schedule Schedule
		elapsed  time.Duration
		done     int
		wantDue  int
		wantNext time.Duration
		wantMore bool
	}{
		{"VR_B14 default burst at the transition", DefaultSchedule, 0, 0, 5, 5 * time.Second, true},
		{"default second burst", DefaultSchedule, 5 * time.Second, 5, 5, 0, false},
		{"default missed bursts caught up", DefaultSchedule, time.Minute, 0, 10, 0, false},
		{"default done", DefaultSchedule, time.Hour, 10, 0, 0, false},
		{"spaced burst starts with one round", refreshing, 0, 0, 1, 100 * time.Millisecond, true},
		{"spaced burst second round", refreshing, 150 * time.Millisecond, 1, 1, 5 * time.Second, true},
		{"second burst then the first refresh", refreshing, 5*time.Second + 100*time.Millisecond, 2, 2, 65 * time.Second, true},
		{"refreshes go on", refreshing, 65 * time.Second, 4, 1, 125 * time.Second, true},
		{"no second burst", Schedule{Repeat: 3}, 0, 0, 3, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.schedule.Validate(); err != nil {
				t.Fatal(err)
			}
			due, next, more := tc.schedule.Due(tc.elapsed, tc.done)
			if due != tc.wantDue || next != tc.wantNext || more != tc.wantMore {
				t.Errorf("Due(%v, %d) = %d, %v, %v; want %d, %v, %v", tc.elapsed, tc.done, due, next, more, tc.wantDue, tc.wantNext, tc.wantMore)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		name     string
		schedule Schedule
		wantErr  string
	}{
		{"no rounds", Schedule{}, "at least one round"},
		{"negative delay", Schedule{Repeat: 1, SecondBurstDelay: -time.Second}, "negative"},
		{"bursts overlap", Schedule{Repeat: 5, Interval: time.Second, SecondBurstDelay: 2 * time.Second}, "outlasts"},
		{"refresh without rounds", Schedule{Repeat: 1, Refresh: time.Second}, "refresh needs"},
		{"refresh shorter than a burst", Schedule{Repeat: 5, Interval: time.Second, Refresh: 2 * time.Second, RefreshRepeat: 1}, "lengthen it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.schedule.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}
