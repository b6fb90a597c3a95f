package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"

	"github.com/hasuite/hasuite/pkg/announce"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/hook"
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
			// The ring answers `show log vrrp` and feeds `monitor vrrp`.
			logger, logs, level := daemon.RunLogger(opts)
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
	check := func(file string, src []byte) (*config.Config, []*vrrpv1.Diagnostic) {
		return server.Check(file, src, opts.ScriptsDir)
	}
	return daemon.LoadConfig(opts.ConfigFile, logger, check, show.Diagnostics)
}

func run(opts daemon.Options, logger *slog.Logger, logs *daemon.LogRing, level *slog.LevelVar) error {
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
	defer daemon.Background(eng.Run, logger, "engine stopped with an error")()
	api := server.New(eng, server.Options{
		Kernel: k, ConfigFile: opts.ConfigFile, ScriptsDir: opts.ScriptsDir, Current: cfg, Logger: logger,
		Logs: logs, LogLevel: level, BaseLogLevel: opts.LogLevel,
	})
	defer daemon.ServeMetrics(metricsListener, api.Metrics, logger)()
	if err := eng.Apply(signals, cfg); err != nil {
		return fmt.Errorf("start the VRRP groups: %w", err)
	}

	socket := opts.SocketPath()
	grpcServer, served, err := daemon.ServeAPI(socket, logger, func(srv *grpc.Server) {
		vrrpv1.RegisterVrrpServer(srv, api)
		busv1.RegisterFailoverServer(srv, producer)
	})
	if err != nil {
		return err
	}
	daemon.Lifecycle{Logger: logger, Served: served, Reload: daemon.ReloadOnSignal(logger, api.Reload, &vrrpv1.ReloadRequest{}),
		Started: "vrrpd started", StartedAttrs: []any{"groups", len(cfg.Groups), "socket", socket},
		Stopping: "vrrpd stopping: resigning every group",
	}.Run(signals, reload, stopSignals)

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
