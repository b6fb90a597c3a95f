package bus

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// patience bounds every wait in these tests; nothing should take near it.
const patience = 20 * time.Second

// fastBackoff keeps reconnection tests quick.
var fastBackoff = WithBackoff(Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond, Jitter: 0.5})

// noAccessGroup pretends group hasuite does not exist, so tests do not
// depend on the machine's /etc/group.
func noAccessGroup(string) (uint32, bool, error) { return 0, false, nil }

// testContext is cancelled when the test ends or after patience.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	t.Cleanup(cancel)
	return ctx
}

// servedProducer is a Producer served on a real unix socket.
type servedProducer struct {
	*Producer
	path     string
	server   *grpc.Server
	stopOnce sync.Once
	served   chan error
}

// socketIn returns the path of daemon's socket in a fresh temp dir.
func socketIn(t *testing.T, daemon string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), daemon+".sock")
}

// serve serves p on path until the test ends or stop is called.
func serve(t *testing.T, path string, p *Producer, opts ...SocketOption) *servedProducer {
	t.Helper()
	opts = append([]SocketOption{WithGroupLookup(noAccessGroup)}, opts...)
	lis, err := Listen(path, opts...)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	sp := &servedProducer{Producer: p, path: path, server: NewServer(path, nil, opts...), served: make(chan error, 1)}
	busv1.RegisterFailoverServer(sp.server, p)
	go func() { sp.served <- sp.server.Serve(lis) }()
	t.Cleanup(sp.stop)
	return sp
}

// stop kills the server like a crash would: connections drop, the socket
// goes away.
func (sp *servedProducer) stop() {
	sp.stopOnce.Do(func() {
		sp.server.Stop()
		<-sp.served
	})
}

func newTestProducer(source string, opts ...ProducerOption) *Producer {
	return NewProducer(source, nil, opts...)
}

// receive returns the next value from ch, failing the test after patience.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recordingHandler keeps log records so a test can check what was logged.
type recordingHandler struct {
	mu       sync.Mutex
	messages []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.messages = append(h.messages, r.Message)
	return nil
}

func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) logged(message string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.messages {
		if m == message {
			return true
		}
	}
	return false
}
