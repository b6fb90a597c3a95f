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

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/server"
	"github.com/hasuite/hasuite/clusterd/internal/show"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/hook"
	"github.com/hasuite/hasuite/pkg/metrics"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// shutdownTimeout bounds the release on SIGTERM (CL-B24): the services
// stop in reverse order, each script within resources.DefaultTimeout, and
// the leaving heartbeat goes out. The unit's TimeoutStopSec is longer.
const shutdownTimeout = resources.DefaultTimeout + 15*time.Second

// settings are what `run` reads from the command line.
type settings struct {
	daemon.Options
	NodeName string
	// Services says where script services are looked up.
	Services resources.Options
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the daemon (SIGHUP reloads the configuration, SIGTERM releases the resources and exits)",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return fmt.Errorf("unexpected arguments %q", c.Args().Slice())
			}
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			node, err := daemon.NodeName(c)
			if err != nil {
				return err
			}
			logger, _ := daemon.NewLogger(os.Stderr, opts.LogFormat, opts.LogLevel)
			// The ring answers `show log cluster` and feeds `monitor cluster`.
			logs := daemon.NewLogRing(daemon.DefaultLogRingSize)
			logger = slog.New(logs.Handler(logger.Handler()))
			return run(settings{Options: opts, NodeName: node, Services: serviceOptions(c)}, logger, logs)
		},
	}
}

// loadConfig reads and checks the configuration file; errors name
// file:line:col, warnings are logged.
func loadConfig(s settings, logger *slog.Logger) (*config.Config, error) {
	src, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w (give its path with --%s)", err, daemon.FlagConfig)
	}
	cfg, diags := server.Check(s.ConfigFile, src, s.Services)
	if cfg == nil {
		return nil, fmt.Errorf("the configuration has errors, nothing started:\n%s", show.Diagnostics(diags))
	}
	for _, d := range diags {
		logger.Warn("configuration warning", "file", d.File, "line", d.Line, "column", d.Column, "path", d.Path, "msg", d.Message)
	}
	if cfg.Enabled && cfg.Group.RoleOf(s.NodeName) == config.RoleNone {
		// CL-B02, CL-Q14: not fatal (the file may be shared by more
		// hosts), but the group will not run here.
		logger.Error("this node is neither the primary nor the secondary: the group does not run here",
			"node", s.NodeName, "primary", cfg.Group.Primary, "secondary", cfg.Group.Secondary,
			"hint", "set --node-name or "+daemon.EnvVar(daemon.FlagNodeName))
	}
	return cfg, nil
}

func run(s settings, logger *slog.Logger, logs *daemon.LogRing) error {
	cfg, err := loadConfig(s, logger)
	if err != nil {
		return err
	}
	if err := s.MakeRunDir(); err != nil {
		return err
	}
	// First thing touched, so that a port in use refuses the start before
	// the kernel's state is.
	var metricsListener net.Listener
	if s.MetricsListen != "" {
		if metricsListener, err = metrics.Listen(s.MetricsListen); err != nil {
			return err
		}
	}
	signals, reload, stopSignals := daemon.HandleSignals(context.Background())
	defer stopSignals()

	hooks := hook.NewRunner(hook.Options{ScriptsDir: s.ScriptsDir, Logger: logger})
	env, err := openEnvironment(s, hooks, logger)
	if err != nil {
		return err
	}
	defer env.close()

	// The producer tells the engine about demotions; the engine needs the
	// producer, so the hook reaches the engine through this variable.
	var eng *engine.Engine
	producer := bus.NewProducer(name, logger, bus.WithDemotionHook(func(group string) { eng.DemotionChanged(group) }))
	eng = engine.New(env.engineOptions(producer, cfg))
	// The engine outlives the signal context: after SIGTERM it must still
	// run to release the resources.
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(engineCtx) }()
	defer func() {
		stopEngine()
		if err := <-engineDone; err != nil {
			logger.Error("engine stopped with an error", "err", err)
		}
	}()
	api := server.New(eng, server.Options{ConfigFile: s.ConfigFile, Services: s.Services, Logger: logger, Logs: logs})
	if metricsListener != nil {
		metricsCtx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		metrics.Serve(metricsCtx, metricsListener, api.Metrics, logger)
	}
	if _, err := eng.Apply(signals, cfg); err != nil {
		return fmt.Errorf("start the cluster group: %w", err)
	}

	socket := s.SocketPath()
	lis, err := bus.Listen(socket)
	if err != nil {
		return err
	}
	grpcServer := bus.NewServer(socket, logger)
	clusterv1.RegisterClusterServer(grpcServer, api)
	busv1.RegisterFailoverServer(grpcServer, producer)
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
	logger.Info("clusterd started", "node", s.NodeName, "group", cfg.Group.Name, "socket", socket)

	for running := true; running; {
		select {
		case <-signals.Done():
			running = false
		case err := <-served:
			stopSignals()
			running = false
			logger.Error("the API server stopped", "err", err)
		case <-reload:
			notify(notifier.Reloading())
			reloadOnSignal(signals, api, logger)
			notify(notifier.Ready())
		}
	}

	logger.Info("clusterd stopping: releasing the resources", "cause", context.Cause(signals))
	notify(notifier.Stopping())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if err := eng.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("release the resources: %w", err))
	}
	producer.Close()
	grpcServer.Stop()
	if err := hooks.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("wait for resource scripts: %w", err))
	}
	return errors.Join(errs...)
}

// reloadOnSignal applies the configuration file again (SIGHUP), logging
// why when it cannot.
func reloadOnSignal(ctx context.Context, api *server.Server, logger *slog.Logger) {
	resp, err := api.Reload(ctx, &clusterv1.ReloadRequest{})
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
