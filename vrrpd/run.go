package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/pkg/announce"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/hook"
	"github.com/hasuite/hasuite/pkg/metrics"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/engine"
	"github.com/hasuite/hasuite/vrrpd/internal/firewall"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
	"github.com/hasuite/hasuite/vrrpd/internal/netio"
	"github.com/hasuite/hasuite/vrrpd/internal/server"
	"github.com/hasuite/hasuite/vrrpd/internal/show"
)

// shutdownTimeout bounds the resignation on SIGTERM (priority-0 adverts,
// VIPs and VRRP interfaces removed) and the wait for running scripts.
const shutdownTimeout = 10 * time.Second

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the daemon (SIGHUP reloads the configuration, SIGTERM resigns every group and exits)",
		Flags: []cli.Flag{
			&cli.IntFlag{
				Name:    "realtime-priority",
				Usage:   "run under SCHED_RR at `PRIO` 1-99 (keepalived's vrrp_rt_priority), so sub-second adverts keep time on a busy machine; 0: the normal policy",
				EnvVars: []string{"HASUITE_REALTIME_PRIORITY"},
			},
		},
		Action: func(c *cli.Context) error {
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			logger, level := daemon.NewLogger(os.Stderr, opts.LogFormat, opts.LogLevel)
			// The ring answers `show log vrrp` and feeds `monitor vrrp`.
			logs := daemon.NewLogRing(daemon.DefaultLogRingSize)
			logger = slog.New(logs.Handler(logger.Handler()))
			if prio := c.Int("realtime-priority"); prio != 0 {
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				if err := daemon.Realtime(ctx, prio, logger); err != nil {
					return err
				}
			}
			return run(opts, logger, logs, level)
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
	cfg, diags := server.Check(opts.ConfigFile, src, opts.ScriptsDir)
	if cfg == nil {
		return nil, fmt.Errorf("the configuration has errors, nothing started:\n%s", show.Diagnostics(diags))
	}
	for _, d := range diags {
		logger.Warn("configuration warning", "file", d.File, "line", d.Line, "column", d.Column, "path", d.Path, "msg", d.Message)
	}
	return cfg, nil
}

func run(opts daemon.Options, logger *slog.Logger, logs *daemon.LogRing, level *slog.LevelVar) error {
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
	signals, reload, stopSignals := daemon.HandleSignals(context.Background())
	defer stopSignals()

	k, err := kernel.Open("", logger)
	if err != nil {
		return fmt.Errorf("open netlink: %w", err)
	}
	defer k.Close()
	hooks := hook.NewRunner(hook.Options{ScriptsDir: opts.ScriptsDir, Logger: logger})
	var filter engine.Filter
	if fw, err := firewall.Open(logger, firewall.Options{}); err != nil {
		logger.Warn("no state filtering (VR-B15): a BACKUP may accept traffic sent to the virtual router", "err", err)
	} else {
		filter = fw
		defer func() {
			if err := fw.Close(); err != nil {
				logger.Warn("cannot remove the state filter rules", "err", err)
			}
		}()
	}

	// The producer tells the engine about demotions; the engine needs the
	// producer, so the hook reaches the engine through this variable.
	var eng *engine.Engine
	producer := bus.NewProducer(name, logger, bus.WithDemotionHook(func(group string) { eng.DemotionChanged(group) }))
	eng = engine.New(engine.Options{
		Kernel: k,
		OpenAdverts: func(g config.Group, source netip.Addr) (netio.AdvertConn, error) {
			return netio.ListenAdverts(engine.ListenConfig(g, source))
		},
		OpenAnnouncer: func(ifname string) (engine.Announcer, error) {
			a, err := announce.OpenAnnouncer(ifname)
			if err != nil {
				return nil, err // not a typed nil inside the interface
			}
			return a, nil
		},
		Producer: producer,
		Hooks:    hooks,
		Filter:   filter,
		Logger:   logger,
	})
	// The engine outlives the signal context: after SIGTERM it must still
	// run to resign the groups.
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(engineCtx) }()
	defer func() {
		stopEngine()
		if err := <-engineDone; err != nil {
			logger.Error("engine stopped with an error", "err", err)
		}
	}()
	api := server.New(eng, server.Options{
		Kernel: k, ConfigFile: opts.ConfigFile, ScriptsDir: opts.ScriptsDir, Current: cfg, Logger: logger,
		Logs: logs, LogLevel: level, BaseLogLevel: opts.LogLevel,
	})
	if metricsListener != nil {
		metricsCtx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		metrics.Serve(metricsCtx, metricsListener, api.Metrics, logger)
	}
	if err := eng.Apply(signals, cfg); err != nil {
		return fmt.Errorf("start the VRRP groups: %w", err)
	}

	socket := opts.SocketPath()
	lis, err := bus.Listen(socket)
	if err != nil {
		return err
	}
	grpcServer := bus.NewServer(socket, logger)
	vrrpv1.RegisterVrrpServer(grpcServer, api)
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
	logger.Info("vrrpd started", "groups", len(cfg.Groups), "socket", socket)

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

	logger.Info("vrrpd stopping: resigning every group", "cause", context.Cause(signals))
	notify(notifier.Stopping())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	errs := []error{}
	if err := eng.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("resign the groups: %w", err))
	}
	producer.Close()
	grpcServer.Stop()
	if err := hooks.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("wait for transition scripts: %w", err))
	}
	return errors.Join(errs...)
}

// reloadOnSignal applies the configuration file again (SIGHUP), logging
// why when it cannot.
func reloadOnSignal(ctx context.Context, api *server.Server, logger *slog.Logger) {
	resp, err := api.Reload(ctx, &vrrpv1.ReloadRequest{})
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
