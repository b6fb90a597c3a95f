package netlab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	canceled, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("the test ended"))

	tests := []struct {
		desc    string
		ctx     context.Context
		timeout time.Duration
		holdsAt int // the call on which the condition first holds; 0 never
		want    []string
	}{
		{desc: "holds at once", ctx: context.Background(), timeout: time.Minute, holdsAt: 1},
		{desc: "holds later", ctx: context.Background(), timeout: time.Minute, holdsAt: 4},
		{
			desc: "times out", ctx: context.Background(), timeout: 30 * time.Millisecond,
			want: []string{"condition not met after", "(timeout 30ms)", "last status: call"},
		},
		{
			desc: "context ends", ctx: canceled, timeout: time.Minute,
			want: []string{"gave up after", "the test ended", "last status: call 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			calls := 0
			err := Poll(tt.ctx, tt.timeout, func() (bool, string) {
				calls++
				return calls == tt.holdsAt, "call " + string(rune('0'+calls%10))
			})
			if len(tt.want) == 0 {
				if err != nil || calls != tt.holdsAt {
					t.Fatalf("Poll = %v after %d calls, want nil after %d", err, calls, tt.holdsAt)
				}
				return
			}
			if err == nil {
				t.Fatal("Poll = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Poll error %q does not contain %q", err, w)
				}
			}
		})
	}
}
