package bus

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Backoff spaces a consumer's reconnection attempts: Initial, doubled after
// every failed attempt up to Max. Each delay is shortened by a random part
// of up to Jitter (a fraction of it), so consumers restarted together do
// not retry in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// DefaultBackoff retries after 100 ms, then up to every 5 s.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}

// delay returns the wait before retry number attempt (0 for the first),
// given random in [0, 1).
func (b Backoff) delay(attempt int, random float64) time.Duration {
	d := b.Initial
	for range attempt {
		if d >= b.Max {
			break
		}
		d *= 2
	}
	d = min(d, b.Max)
	return d - time.Duration(float64(d)*b.Jitter*random)
}

// ClientOption configures the consumer side: [WatchFailover] and [NewHolder].
type ClientOption func(*clientConfig)

type clientConfig struct {
	backoff Backoff
	logger  *slog.Logger
}

// WithBackoff replaces [DefaultBackoff] (tests make it fast).
func WithBackoff(b Backoff) ClientOption {
	return func(c *clientConfig) { c.backoff = b }
}

// WithLogger logs lost and restored connections to the producer.
func WithLogger(logger *slog.Logger) ClientOption {
	return func(c *clientConfig) { c.logger = orDiscard(logger) }
}

func newClientConfig(opts []ClientOption) clientConfig {
	c := clientConfig{backoff: DefaultBackoff, logger: orDiscard(nil)}
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

// retrier counts failed attempts and waits between them.
type retrier struct {
	backoff  Backoff
	attempts int
}

// wait sleeps before the next attempt and reports false when ctx ended.
// healthy says the attempt that just ended had worked for a while (it
// registered or read a snapshot), which starts the backoff again.
func (r *retrier) wait(ctx context.Context, healthy bool) bool {
	if healthy {
		r.attempts = 0
	}
	timer := time.NewTimer(r.backoff.delay(r.attempts, rand.Float64()))
	defer timer.Stop()
	r.attempts++
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
