package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/metrics"
)

// lifecycleRun is one Lifecycle.Run and what the test drives it with:
// HandleSignals' results, faked.
type lifecycleRun struct {
	cancel   context.CancelCauseFunc
	reload   chan os.Signal
	served   chan error
	stopped  chan struct{} // EngineStopped
	reloaded chan context.Context
	log      *bytes.Buffer // read once Run has returned
	done     chan struct{}
	signals  context.Context
	mu       sync.Mutex
	stopSigs bool // stopSignals was called
}

func startLifecycle(t *testing.T) *lifecycleRun {
	r := &lifecycleRun{
		reload: make(chan os.Signal, 1), served: make(chan error, 1), stopped: make(chan struct{}),
		reloaded: make(chan context.Context, 1), log: new(bytes.Buffer), done: make(chan struct{}),
	}
	r.signals, r.cancel = context.WithCancelCause(context.Background())
	stopSignals := func() {
		r.mu.Lock()
		r.stopSigs = true
		r.mu.Unlock()
		r.cancel(context.Canceled)
	}
	l := Lifecycle{
		Logger: slog.New(slog.NewTextHandler(r.log, nil)), Notifier: NotifierFromEnv(),
		Started: "testd started", StartedAttrs: []any{"groups", 2},
		Stopping: "testd stopping: resigning",
		Reload:   func(ctx context.Context) { r.reloaded <- ctx },
		Served:   r.served, EngineStopped: r.stopped,
	}
	go func() {
		defer close(r.done)
		l.Run(r.signals, r.reload, stopSignals)
	}()
	return r
}

func TestLifecycleRun(t *testing.T) {
	tests := []struct {
		name string
		// act drives the running loop once it is ready; the notifications
		// it causes before the shutdown are checked by act.
		act          func(t *testing.T, r *lifecycleRun, systemd func() string)
		wantStopSigs bool     // the loop stopped the signal handling itself
		wantLog      []string // in the log, besides the start and the stop
	}{
		{
			name: "SIGTERM",
			act:  func(t *testing.T, r *lifecycleRun, _ func() string) { r.cancel(errors.New("received terminated")) },
			wantLog: []string{
				`msg="testd stopping: resigning" cause="received terminated"`,
			},
		},
		{
			name: "SIGHUP, then SIGTERM",
			act: func(t *testing.T, r *lifecycleRun, systemd func() string) {
				r.reload <- os.Interrupt
				if got := systemd(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
					t.Errorf("systemd received %q, want RELOADING=1 first", got)
				}
				select {
				case ctx := <-r.reloaded:
					if ctx != r.signals {
						t.Error("Reload did not get the signal context")
					}
				case <-time.After(patience):
					t.Fatal("Reload was not called")
				}
				if got := systemd(); got != "READY=1" {
					t.Errorf("systemd received %q after the reload, want READY=1", got)
				}
				r.cancel(errors.New("received terminated"))
			},
		},
		{
			name:         "the API server stops",
			act:          func(t *testing.T, r *lifecycleRun, _ func() string) { r.served <- errors.New("socket gone") },
			wantStopSigs: true,
			wantLog:      []string{`level=ERROR msg="the API server stopped" err="socket gone"`, `cause="context canceled"`},
		},
		{
			name:         "the engine stops on its own",
			act:          func(t *testing.T, r *lifecycleRun, _ func() string) { close(r.stopped) },
			wantStopSigs: true,
			wantLog:      []string{`level=ERROR msg="the engine stopped on its own"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
			systemd := func() string { return receive(t, conn) }
			r := startLifecycle(t)
			if got := systemd(); got != "READY=1" {
				t.Fatalf("systemd received %q first, want READY=1", got)
			}
			tt.act(t, r, systemd)
			if got := systemd(); got != "STOPPING=1" {
				t.Errorf("systemd received %q, want STOPPING=1", got)
			}
			select {
			case <-r.done:
			case <-time.After(patience):
				t.Fatal("Run did not return")
			}
			r.mu.Lock()
			if r.stopSigs != tt.wantStopSigs {
				t.Errorf("stopSignals called: %v, want %v", r.stopSigs, tt.wantStopSigs)
			}
			r.mu.Unlock()
			log := r.log.String()
			for _, want := range append([]string{`level=INFO msg="testd started" groups=2`, `msg="testd stopping: resigning"`}, tt.wantLog...) {
				if !strings.Contains(log, want) {
					t.Errorf("the log lacks %s:\n%s", want, log)
				}
			}
		})
	}
}

func TestBackgroundStopWaitsAndLogs(t *testing.T) {
	for _, runErr := range []error{nil, errors.New("netlink closed")} {
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, nil))
		returned := false
		stop := Background(func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // a slow shutdown is waited for
			returned = true
			return runErr
		}, logger, "engine stopped with an error")
		stop()
		if !returned {
			t.Error("stop returned before run did")
		}
		if logged := strings.Contains(log.String(), `msg="engine stopped with an error" err="netlink closed"`); logged != (runErr != nil) {
			t.Errorf("run returned %v; log %q", runErr, log.String())
		}
	}
}

func TestServeAPI(t *testing.T) {
	dir, err := os.MkdirTemp("", "hasuite-serve-") // short: a socket path is bounded
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "testd.sock")
	registered := false
	srv, served, err := ServeAPI(socket, slog.New(slog.NewTextHandler(io.Discard, nil)), func(*grpc.Server) { registered = true })
	if err != nil {
		t.Fatal(err)
	}
	if !registered {
		t.Error("register was not called")
	}
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	conn, err := bus.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Nothing is registered: the server answers that it knows no such call.
	if err := conn.Invoke(ctx, "/hasuite.test.v1.Test/Ping", nil, nil); status.Code(err) != codes.Unimplemented {
		t.Errorf("a call to the server: %v, want Unimplemented", err)
	}
	srv.Stop()
	select {
	case <-served:
	case <-time.After(patience):
		t.Fatal("served did not yield after Stop")
	}
	if _, _, err := ServeAPI(filepath.Join(dir, "missing", "\x00", "x.sock"), nil, func(*grpc.Server) {}); err == nil {
		t.Error("ServeAPI on an impossible path: no error")
	}
}

func TestMetricsOff(t *testing.T) {
	ln, err := Options{}.ListenMetrics()
	if ln != nil || err != nil {
		t.Fatalf("ListenMetrics without --metrics-listen: %v, %v; want nothing", ln, err)
	}
	ServeMetrics(nil, nil, nil)() // no listener: nothing to serve, nothing to stop
}

func TestMetricsOn(t *testing.T) {
	ln, err := Options{MetricsListen: "127.0.0.1:0"}.ListenMetrics()
	if err != nil {
		t.Fatal(err)
	}
	stop := ServeMetrics(ln, func(context.Context) ([]metrics.Family, error) { return nil, nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	url := "http://" + ln.Addr().String() + "/metrics"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	// A port in use refuses the start, saying which flag to change.
	if _, err := (Options{MetricsListen: ln.Addr().String()}).ListenMetrics(); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("ListenMetrics on a port in use: %v, want an error naming --metrics-listen", err)
	}
	stop()
}

func TestRunLogger(t *testing.T) {
	logger, logs, level := RunLogger(Options{LogFormat: LogJSON, LogLevel: slog.LevelWarn})
	logger.Info("hidden at warn")
	logger.Warn("kept")
	level.Set(slog.LevelInfo)
	logger.Info("shown once the level is lowered")
	if got := messages(logs.Last(0)); got != "kept,shown once the level is lowered" {
		t.Errorf("the ring kept %q", got)
	}
}
