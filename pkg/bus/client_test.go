package bus

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
	tests := []struct {
		attempt int
		random  float64
		want    time.Duration
	}{
		{0, 0, 100 * time.Millisecond},
		{1, 0, 200 * time.Millisecond},
		{5, 0, 3200 * time.Millisecond},
		{6, 0, 5 * time.Second},
		{1000, 0, 5 * time.Second},
		{0, 0.5, 90 * time.Millisecond},
		{1000, 0.999999, 4000001 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := b.delay(tt.attempt, tt.random); got != tt.want {
			t.Errorf("delay(%d, %v) = %v, want %v", tt.attempt, tt.random, got, tt.want)
		}
	}
}
