package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/netio"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/atomicfile"
	"github.com/hasuite/hasuite/pkg/clock"
)

// The production collaborators, for the daemon to put in Options.

// UIDFile is the node UID's file inside --state-dir.
const UIDFile = "node-uid"

// LoadUID reads the node's UID from stateDir, creating it (and the
// directory) at the first start (spec §5, CUBE). The UID must survive
// restarts: a new one at every start would look like a re-installed node
// to the peer.
func LoadUID(stateDir string) (wire.UID, error) {
	path := filepath.Join(stateDir, UIDFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		uid, err := wire.ParseUID(strings.TrimSpace(string(raw)))
		if err != nil {
			return wire.UID{}, fmt.Errorf("%s: %w; delete the file to make a new UID", path, err)
		}
		return uid, nil
	case !errors.Is(err, fs.ErrNotExist):
		return wire.UID{}, fmt.Errorf("read the node UID: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return wire.UID{}, fmt.Errorf("create the state directory for the node UID: %w", err)
	}
	uid := wire.NewUID()
	// Written whole or not at all (a torn file would refuse the next start)
	// and never over another process's.
	if err := atomicfile.Create(path, []byte(uid.String()+"\n"), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made one first: use it
			return LoadUID(stateDir)
		}
		return wire.UID{}, fmt.Errorf("write the node UID: %w", err)
	}
	return uid, nil
}

// StateLedger opens the cluster IP ledger in stateDir.
func StateLedger(stateDir string) (*resources.Ledger, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create the state directory: %w", err)
	}
	return resources.OpenLedger(filepath.Join(stateDir, resources.LedgerFile))
}

// GroupResources is Options.NewResources for resources.Group: base holds
// the Kernel, the script runner (*hook.Runner), the ledger (StateLedger)
// and the script directories; the group's name is filled in.
func GroupResources(base resources.Options) func(group string, services []config.Service) (Resources, error) {
	return func(group string, services []config.Service) (Resources, error) {
		opts := base
		opts.Name = group
		g, err := resources.New(services, opts)
		if err != nil {
			return nil, err
		}
		return g, nil
	}
}

// CheckResources is Options.CheckResources for the same base options.
func CheckResources(base resources.Options) func(services []config.Service) error {
	return func(services []config.Service) error { return resources.Check(services, base) }
}

// LedgerCleanup is Options.Cleanup: it removes the cluster IPs a killed
// run left behind, as the ledger records them. A ledger holding any means
// that run was killed holding the resources, so its script services may
// still run too: with leftovers (the configured services' Group, nil when
// none is configured) they are stopped first, in reverse order, as a
// release would have.
func LedgerCleanup(k resources.Kernel, ledger *resources.Ledger, log *slog.Logger, leftovers func() (*resources.Group, error)) func(ctx context.Context) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context) error {
		var errs []error
		if len(ledger.Entries()) > 0 && leftovers != nil {
			g, err := leftovers()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("stop the services an earlier run left: %w", err))
			case g != nil:
				log.Warn("an earlier run was killed holding the resources: stopping its services")
				errs = append(errs, g.StopLeftovers(ctx))
				g.Close()
			}
		}
		_, err := resources.Cleanup(ctx, k, ledger, log)
		return errors.Join(append(errs, err)...)
	}
}

// ICMPMonitor is Options.NewMonitor for monitor.Pinger over monitor.ICMP
// in the network namespace nsPath ("" for the current one); the pings
// never leave from a cluster IP (CL-B09).
func ICMPMonitor(nsPath string, clk clock.Clock, log *slog.Logger) func(monitor.Config, func() []netip.Addr) (Monitor, error) {
	return func(cfg monitor.Config, exclude func() []netip.Addr) (Monitor, error) {
		prober, err := monitor.OpenICMP(nsPath, exclude)
		if err != nil {
			return nil, err
		}
		p, err := monitor.New(prober, cfg, clk, log)
		if err != nil {
			prober.Close()
			return nil, err
		}
		return p, nil
	}
}

// ConnConfig is where cfg's heartbeats travel (CL-C09, CL-C11, CL-Q12).
func ConnConfig(cfg *config.Config) netio.Config {
	return netio.Config{Interfaces: cfg.Interfaces, Group: cfg.McastGroup, Port: cfg.Port, Peers: cfg.Peers}
}

// UDPConn is Options.OpenConn for the real sockets.
func UDPConn(cfg *config.Config) (netio.Conn, error) {
	c, err := netio.Open(ConnConfig(cfg))
	if err != nil {
		return nil, err
	}
	return c, nil
}
