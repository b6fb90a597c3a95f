package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/server"
	"github.com/hasuite/hasuite/ctsyncd/internal/show"
	"github.com/hasuite/hasuite/pkg/daemon"
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
			if err := daemon.NoArgs(c); err != nil {
				return err
			}
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			// The ring answers `show log conntrack-sync` and feeds
			// `monitor conntrack-sync`.
			logger, logs, _ := daemon.RunLogger(opts)
			logger.Debug("garbage collection", "gogc", setGCPercent())
			return run(c.Context, opts, logger, logs)
		},
	}
}

// loadConfig reads and checks the configuration file; errors name
// file:line:col, warnings are logged.
func loadConfig(opts daemon.Options, logger *slog.Logger) (*config.Config, error) {
	cfg, err := daemon.LoadConfig(opts.ConfigFile, logger, server.Check, show.Diagnostics)
	if err != nil {
		return nil, err
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
	metricsListener, err := opts.ListenMetrics()
	if err != nil {
		return err
	}
	signals, reload, stopSignals := daemon.HandleSignals(parent)
	defer stopSignals()

	eng := engine.New(engine.Options{Logger: logger, RunDir: opts.RunDir})
	// The engine outlives the signal context: after SIGTERM it must still
	// run to close its sockets.
	defer daemon.Background(eng.Run, logger, "engine stopped with an error")()
	api := server.New(eng, server.Options{ConfigFile: opts.ConfigFile, Logger: logger, Logs: logs})
	defer daemon.ServeMetrics(metricsListener, api.Metrics, logger)()
	if _, err := eng.Apply(signals, server.Applied(cfg)); err != nil {
		return fmt.Errorf("start conntrack-sync: %w", err)
	}

	socket := opts.SocketPath()
	grpcServer, served, err := daemon.ServeAPI(socket, logger, func(srv *grpc.Server) {
		ctsyncv1.RegisterCtsyncServer(srv, api)
	})
	if err != nil {
		return err
	}
	daemon.Lifecycle{Logger: logger, Served: served, Reload: daemon.ReloadOnSignal(logger, api.Reload, &ctsyncv1.ReloadRequest{}),
		Started: "ctsyncd started", StartedAttrs: []any{"interface", cfg.Interface, "follows", cfg.Mechanism.String(), "socket", socket},
		Stopping: "ctsyncd stopping: the kernel table is left as it is",
		// Unlike vrrpd's and clusterd's, this engine can end on its own.
		EngineStopped: eng.Done(),
	}.Run(signals, reload, stopSignals)

	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if err := eng.Shutdown(ctx); err != nil && !errors.Is(err, engine.ErrStopped) {
		errs = append(errs, fmt.Errorf("stop conntrack-sync: %w", err))
	}
	grpcServer.Stop()
	return errors.Join(errs...)
}
