package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/server"
	"github.com/hasuite/hasuite/ctsyncd/internal/show"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/metrics"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// shutdownTimeout bounds the stop on SIGTERM: sockets closed and caches
// dropped, the kernel table left as it is; nothing waits on the network.
// The unit's TimeoutStopSec is longer.
const shutdownTimeout = 10 * time.Second

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the daemon (SIGHUP reloads the configuration, SIGTERM stops syncing and exits, leaving the kernel table as it is)",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return fmt.Errorf("unexpected arguments %q", c.Args().Slice())
			}
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			logger, _ := daemon.NewLogger(os.Stderr, opts.LogFormat, opts.LogLevel)
			// The ring answers `show log conntrack-sync` and feeds
			// `monitor conntrack-sync`.
			logs := daemon.NewLogRing(daemon.DefaultLogRingSize)
			logger = slog.New(logs.Handler(logger.Handler()))
			return run(c.Context, opts, logger, logs)
		},
	}
}

// loadConfig reads and checks the configuration file; errors name
// file:line:col, warnings are logged.
func loadConfig(opts daemon.Options, logger *slog.Logger) (*config.Config, error) {
	src, err := os.ReadFile(opts.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w (give its path with --%s)", err, daemon.FlagConfig)
	}
	cfg, diags := server.Check(opts.ConfigFile, src)
	if cfg == nil {
		return nil, fmt.Errorf("the configuration has errors, nothing started:\n%s", show.Diagnostics(diags))
	}
	for _, d := range diags {
		logger.Warn("configuration warning", "file", d.File, "line", d.Line, "column", d.Column, "path", d.Path, "msg", d.Message)
	}
	if !cfg.Enabled {
		logger.Warn("no service conntrack-sync in the configuration: not syncing until a reload adds it (CS-C01)",
			"file", opts.ConfigFile)
	}
	return cfg, nil
}

// run runs the daemon until SIGTERM, SIGINT or the end of parent.
func run(parent context.Context, opts daemon.Options, logger *slog.Logger, logs *daemon.LogRing) error {
	cfg, err := loadConfig(opts, logger)
	if err != nil {
		return err
	}
	if err := opts.MakeRunDir(); err != nil {
		return err
	}
	// First thing touched, so that a port in use refuses the start before
	// the kernel's state is.
	var metricsListener net.Listener
	if opts.MetricsListen != "" {
		if metricsListener, err = metrics.Listen(opts.MetricsListen); err != nil {
			return err
		}
	}
	signals, reload, stopSignals := daemon.HandleSignals(parent)
	defer stopSignals()

	eng := engine.New(engine.Options{Logger: logger, RunDir: opts.RunDir})
	// The engine outlives the signal context: after SIGTERM it must still
	// run to close its sockets.
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(engineCtx) }()
	defer func() {
		stopEngine()
		if err := <-engineDone; err != nil {
			logger.Error("engine stopped with an error", "err", err)
		}
	}()
	api := server.New(eng, server.Options{ConfigFile: opts.ConfigFile, Logger: logger, Logs: logs})
	if metricsListener != nil {
		metricsCtx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		metrics.Serve(metricsCtx, metricsListener, api.Metrics, logger)
	}
	if _, err := eng.Apply(signals, server.Applied(cfg)); err != nil {
		return fmt.Errorf("start conntrack-sync: %w", err)
	}

	socket := opts.SocketPath()
	lis, err := bus.Listen(socket)
	if err != nil {
		return err
	}
	grpcServer := bus.NewServer(socket, logger)
	ctsyncv1.RegisterCtsyncServer(grpcServer, api)
	served := make(chan error, 1)
	go func() { served <- grpcServer.Serve(lis) }()

	notifier := daemon.NotifierFromEnv()
	notify := func(err error) {
		if err != nil {
			logger.Warn("cannot notify systemd", "err", err)
		}
	}
	if err := daemon.TrimExecutable(); err != nil {
		logger.Debug("cannot trim the resident set", "err", err)
	}
	notify(notifier.Ready())
	logger.Info("ctsyncd started", "interface", cfg.Interface, "follows", cfg.Mechanism.String(), "socket", socket)

	for running := true; running; {
		select {
		case <-signals.Done():
			running = false
		case err := <-served:
			stopSignals()
			running = false
			logger.Error("the API server stopped", "err", err)
		case <-eng.Done():
			stopSignals()
			running = false
			logger.Error("the engine stopped on its own")
		case <-reload:
			notify(notifier.Reloading())
			reloadOnSignal(signals, api, logger)
			notify(notifier.Ready())
		}
	}

	logger.Info("ctsyncd stopping: the kernel table is left as it is", "cause", context.Cause(signals))
	notify(notifier.Stopping())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if err := eng.Shutdown(ctx); err != nil && !errors.Is(err, engine.ErrStopped) {
		errs = append(errs, fmt.Errorf("stop conntrack-sync: %w", err))
	}
	grpcServer.Stop()
	return errors.Join(errs...)
}

// reloadOnSignal applies the configuration file again (SIGHUP), logging
// why when it cannot.
func reloadOnSignal(ctx context.Context, api *server.Server, logger *slog.Logger) {
	resp, err := api.Reload(ctx, &ctsyncv1.ReloadRequest{})
	if err != nil {
		logger.Error("reload failed", "err", err)
		return
	}
	for _, d := range resp.Diagnostics {
		logger.Warn("reload: configuration problem", "severity", d.Severity, "file", d.File, "line", d.Line,
			"column", d.Column, "path", d.Path, "msg", d.Message)
	}
	for _, change := range resp.Changes {
		logger.Info("reload: applied", "change", change)
	}
}
