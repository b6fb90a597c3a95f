package main

import (
	"fmt"
	"log/slog"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/hook"
)

// environment is the OS side the engine runs on: netlink for the cluster
// IPs, the ledger of the addresses added, the scripts runner, the node's
// identity.
type environment struct {
	s      settings
	log    *slog.Logger
	kernel *resources.Netlink
	ledger *resources.Ledger
	hooks  *hook.Runner
	uid    wire.UID
}

func openEnvironment(s settings, hooks *hook.Runner, logger *slog.Logger) (*environment, error) {
	uid, err := engine.LoadUID(s.StateDir)
	if err != nil {
		return nil, fmt.Errorf("%w (check --%s)", err, daemon.FlagStateDir)
	}
	ledger, err := engine.StateLedger(s.StateDir)
	if err != nil {
		return nil, fmt.Errorf("%w (check --%s)", err, daemon.FlagStateDir)
	}
	k, err := resources.Open("")
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return &environment{s: s, log: logger, kernel: k, ledger: ledger, hooks: hooks, uid: uid}, nil
}

func (e *environment) close() {
	if err := e.kernel.Close(); err != nil {
		e.log.Warn("close netlink", "err", err)
	}
}

// engineOptions are the engine's collaborators on this host.
func (e *environment) engineOptions(producer *bus.Producer, cfg *config.Config) engine.Options {
	services := e.s.Services
	services.Kernel, services.Scripts, services.Ledger, services.Logger = e.kernel, e.hooks, e.ledger, e.log
	// The services a killed run may have left running are the configured
	// ones: the file it ran with is the one this run starts with.
	leftovers := func() (*resources.Group, error) {
		if cfg == nil || cfg.Group.Name == "" {
			return nil, nil
		}
		return resources.New(cfg.Group.Services, services)
	}
	return engine.Options{
		NodeName:       e.s.NodeName,
		UID:            e.uid,
		OpenConn:       engine.UDPConn,
		NewResources:   engine.GroupResources(services),
		CheckResources: engine.CheckResources(services),
		NewMonitor:     engine.ICMPMonitor("", nil, e.log),
		Cleanup:        engine.LedgerCleanup(e.kernel, e.ledger, e.log, leftovers),
		Producer:       producer,
		Logger:         e.log,
	}
}
