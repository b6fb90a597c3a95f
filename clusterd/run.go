package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/server"
	"github.com/hasuite/hasuite/clusterd/internal/show"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/hook"
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
			if err := daemon.NoArgs(c); err != nil {
				return err
			}
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			node, err := daemon.NodeName(c)
			if err != nil {
				return err
			}
			// The ring answers `show log cluster` and feeds `monitor cluster`.
			logger, logs, _ := daemon.RunLogger(opts)
			return run(settings{Options: opts, NodeName: node, Services: serviceOptions(c)}, logger, logs)
		},
	}
}

// loadConfig reads and checks the configuration file; errors name
// file:line:col, warnings are logged.
func loadConfig(s settings, logger *slog.Logger) (*config.Config, error) {
	check := func(file string, src []byte) (*config.Config, []*clusterv1.Diagnostic) {
		return server.Check(file, src, s.Services)
	}
	cfg, err := daemon.LoadConfig(s.ConfigFile, logger, check, show.Diagnostics)
	if err != nil {
		return nil, err
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
	metricsListener, err := s.ListenMetrics()
	if err != nil {
		return err
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
	defer daemon.Background(eng.Run, logger, "engine stopped with an error")()
	api := server.New(eng, server.Options{ConfigFile: s.ConfigFile, Services: s.Services, Logger: logger, Logs: logs})
	defer daemon.ServeMetrics(metricsListener, api.Metrics, logger)()
	if _, err := eng.Apply(signals, cfg); err != nil {
		return fmt.Errorf("start the cluster group: %w", err)
	}

	socket := s.SocketPath()
	grpcServer, served, err := daemon.ServeAPI(socket, logger, func(srv *grpc.Server) {
		clusterv1.RegisterClusterServer(srv, api)
		busv1.RegisterFailoverServer(srv, producer)
	})
	if err != nil {
		return err
	}
	daemon.Lifecycle{Logger: logger, Served: served, Reload: daemon.ReloadOnSignal(logger, api.Reload, &clusterv1.ReloadRequest{}),
		Started: "clusterd started", StartedAttrs: []any{"node", s.NodeName, "group", cfg.Group.Name, "socket", socket},
		Stopping: "clusterd stopping: releasing the resources",
	}.Run(signals, reload, stopSignals)

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
