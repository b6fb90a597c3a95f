package daemon

import (
	"context"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/metrics"
)

// The pieces of every daemon's `run` that do not depend on its subsystem,
// in the order a daemon uses them: RunLogger, LoadConfig, ListenMetrics,
// Background (the engine), ServeMetrics, ServeAPI, then Lifecycle.Run
// until a signal.

// RunLogger is the logger of `run`: NewLogger on standard error at the
// --log-level and --log-format of opts, whose records a LogRing of
// DefaultLogRingSize keeps too, to answer `show log` and feed `monitor`.
// level sets the log's level at run time.
func RunLogger(opts Options) (logger *slog.Logger, logs *LogRing, level *slog.LevelVar) {
	logger, level = NewLogger(os.Stderr, opts.LogFormat, opts.LogLevel)
	logs = NewLogRing(DefaultLogRingSize)
	return slog.New(logs.Handler(logger.Handler())), logs, level
}

// ListenMetrics opens --metrics-listen, or returns a nil listener when it
// is empty. Daemons call it before touching the kernel's state, so that a
// port in use refuses the start with nothing to undo.
func (o Options) ListenMetrics() (net.Listener, error) {
	if o.MetricsListen == "" {
		return nil, nil
	}
	return metrics.Listen(o.MetricsListen)
}

// ServeMetrics serves collect on ln (from ListenMetrics) until stop is
// called; with a nil ln it does nothing.
func ServeMetrics(ln net.Listener, collect metrics.Collector, logger *slog.Logger) (stop func()) {
	if ln == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	metrics.Serve(ctx, ln, collect, logger)
	return cancel
}

// Background runs run (a daemon's engine) in a goroutine with a context of
// its own, not the signal context: after SIGTERM the engine must still run
// to resign, release or close what it holds. stop cancels that context,
// waits for run to return and logs its error, if any, as errMsg.
func Background(run func(context.Context) error, logger *slog.Logger, errMsg string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			logger.Error(errMsg, "err", err)
		}
	}
}

// ServeAPI listens on the daemon's socket and serves, in a goroutine, the
// gRPC services register adds; served yields the server's end. The caller
// stops the server (its Stop) on the way out.
func ServeAPI(socket string, logger *slog.Logger, register func(*grpc.Server)) (srv *grpc.Server, served <-chan error, err error) {
	lis, err := bus.Listen(socket)
	if err != nil {
		return nil, nil, err
	}
	srv = bus.NewServer(socket, logger)
	register(srv)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	return srv, done, nil
}

// Lifecycle is the middle of every daemon's `run`, once its API serves:
// systemd is told it is ready, SIGHUP reloads, and SIGINT or SIGTERM (or
// the end of the API server, or of an engine that can stop on its own)
// begins the shutdown, which the daemon then does its own way.
type Lifecycle struct {
	Logger   *slog.Logger
	Notifier *Notifier // nil: NotifierFromEnv
	// Started is logged at info level, with StartedAttrs, once ready.
	Started      string
	StartedAttrs []any
	// Stopping is logged at info level, with the cause, when the shutdown
	// begins; it says what the daemon does on its way out.
	Stopping string
	// Reload applies the configuration file again (SIGHUP), logging why
	// when it cannot (ReloadOnSignal); ctx is the signal context.
	Reload func(ctx context.Context)
	// Served yields the end of the API server (ServeAPI).
	Served <-chan error
	// EngineStopped is closed when the engine stops on its own; nil for a
	// daemon whose engine only stops when told to.
	EngineStopped <-chan struct{}
}

// Run tells systemd the daemon is ready and serves signals until the
// shutdown begins, then tells systemd it is stopping. signals, reload and
// stopSignals are HandleSignals' results: an API server or engine that
// ends stops the signal handling, so that a second SIGTERM kills a
// shutdown that hangs.
func (l Lifecycle) Run(signals context.Context, reload <-chan os.Signal, stopSignals func()) {
	if l.Notifier == nil {
		l.Notifier = NotifierFromEnv()
	}
	notify := func(err error) {
		if err != nil {
			l.Logger.Warn("cannot notify systemd", "err", err)
		}
	}
	if err := TrimExecutable(); err != nil {
		l.Logger.Debug("cannot trim the resident set", "err", err)
	}
	notify(l.Notifier.Ready())
	l.Logger.Info(l.Started, l.StartedAttrs...)

	for running := true; running; {
		select {
		case <-signals.Done():
			running = false
		case err := <-l.Served:
			stopSignals()
			running = false
			l.Logger.Error("the API server stopped", "err", err)
		case <-l.EngineStopped: // a nil channel never fires
			stopSignals()
			running = false
			l.Logger.Error("the engine stopped on its own")
		case <-reload:
			notify(l.Notifier.Reloading())
			l.Reload(signals)
			notify(l.Notifier.Ready())
		}
	}

	l.Logger.Info(l.Stopping, "cause", context.Cause(signals))
	notify(l.Notifier.Stopping())
}
