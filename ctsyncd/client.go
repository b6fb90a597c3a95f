package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/server"
	"github.com/hasuite/hasuite/ctsyncd/internal/show"
	"github.com/hasuite/hasuite/pkg/daemon"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// callTimeout bounds one request to the daemon; a cache listing of 100k
// entries streams well within it.
const callTimeout = 30 * time.Second

// feature is the guide's name of what ctsyncd does, in its commands;
// typo is the guide's misspelling of it (CS-O04: `reset contrack-sync`,
// `restart contrack-sync` in the quick list), accepted as a hidden alias.
const (
	feature = "conntrack-sync"
	typo    = "contrack-sync"
)

// arguments are the command's positional arguments. The cli stops
// reading flags at the first argument, so `show conntrack-sync
// statistics main --json` would take --json for an argument: it is read
// as the flag wherever it is.
func arguments(c *cli.Context) []string {
	var out []string
	for _, a := range c.Args().Slice() {
		// Set fails when the command has no such flag: then it stays an
		// argument, and an unexpected one.
		if a == "--"+daemon.JSONFlag.Name && c.Set(daemon.JSONFlag.Name, "true") == nil {
			continue
		}
		out = append(out, a)
	}
	return out
}

// withClient dials the running daemon and calls fn with its API client;
// maxArgs is how many arguments the command takes at most.
func withClient(c *cli.Context, maxArgs int, fn func(ctx context.Context, client ctsyncv1.CtsyncClient) error) error {
	if args := arguments(c); len(args) > maxArgs {
		return fmt.Errorf("unexpected arguments %q", args[maxArgs:])
	}
	return daemon.Call(c, callTimeout, ctsyncv1.NewCtsyncClient, fn)
}

// reply prints the daemon's answer (as JSON with --json, else as render
// gives it), or its error alone.
func reply(c *cli.Context, resp proto.Message, err error, render func() string) error {
	return daemon.Reply(c, resp, err, show.JSON, render)
}

// explain keeps a daemon error's message alone.
var explain = daemon.ExplainRPC

// table is the optional [main|expect] argument.
func table(c *cli.Context) (ctsyncv1.Table, error) {
	args := arguments(c)
	first := ""
	if len(args) > 0 {
		first = args[0]
	}
	switch first {
	case "":
		return ctsyncv1.Table_TABLE_UNSPECIFIED, nil
	case "main":
		return ctsyncv1.Table_TABLE_MAIN, nil
	case "expect":
		return ctsyncv1.Table_TABLE_EXPECT, nil
	}
	return 0, fmt.Errorf("unknown table %q: give main or expect, or nothing for both", first)
}

// showCommand is `show conntrack-sync status|internal-cache|external-cache|
// statistics` and `show log conntrack-sync`.
func showCommand() *cli.Command {
	cacheCmd := func(cmdName, usage string, cache ctsyncv1.Cache) *cli.Command {
		return &cli.Command{Name: cmdName, Usage: usage, ArgsUsage: "[main|expect]", Flags: []cli.Flag{daemon.JSONFlag},
			Action: func(c *cli.Context) error { return showCache(c, cache) }}
	}
	return &cli.Command{
		Name:  "show",
		Usage: "show the running daemon's state",
		Subcommands: []*cli.Command{
			{
				Name:  feature,
				Usage: "conntrack synchronization",
				Subcommands: []*cli.Command{
					{Name: "status", Usage: "the interface, the failover mechanism, the last transition, the peer and the replication lag (CS-O01)",
						Flags: []cli.Flag{daemon.JSONFlag}, Action: showStatus},
					cacheCmd("internal-cache", "this node's connections, main table then expectations (CS-O02)", ctsyncv1.Cache_CACHE_INTERNAL),
					cacheCmd("external-cache", "the peer's connections as received (CS-O02)", ctsyncv1.Cache_CACHE_EXTERNAL),
					{Name: "statistics", Usage: "cache, traffic and replication counters since the daemon started (CS-O03)",
						ArgsUsage: "[main|expect]", Flags: []cli.Flag{daemon.JSONFlag}, Action: showStatistics},
				},
			},
			{
				Name:  "log",
				Usage: "logs by daemon",
				Subcommands: []*cli.Command{
					{Name: feature, Usage: "ctsyncd's most recent log records, oldest first (kept in memory)",
						Flags: []cli.Flag{daemon.JSONFlag, daemon.LinesFlag}, Action: showLog},
				},
			},
		},
	}
}

func showStatus(c *cli.Context) error {
	return withClient(c, 0, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
		resp, err := client.ShowStatus(ctx, &ctsyncv1.ShowStatusRequest{})
		return reply(c, resp, err, func() string { return show.Status(resp.Status, time.Now()) })
	})
}

func showStatistics(c *cli.Context) error {
	t, err := table(c)
	if err != nil {
		return err
	}
	return withClient(c, 1, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
		resp, err := client.ShowStatistics(ctx, &ctsyncv1.ShowStatisticsRequest{Table: t})
		return reply(c, resp, err, func() string { return show.Statistics(resp, t) })
	})
}

// cacheWriter is what renders a ShowCache stream: text or JSON.
type cacheWriter interface {
	Write(*ctsyncv1.ShowCacheResponse) error
	Close() error
}

// showCache streams a cache listing to the output chunk by chunk: 100k
// entries never become one string.
func showCache(c *cli.Context, cache ctsyncv1.Cache) error {
	t, err := table(c)
	if err != nil {
		return err
	}
	return withClient(c, 1, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
		stream, err := client.ShowCache(ctx, &ctsyncv1.ShowCacheRequest{Cache: cache, Table: t})
		if err != nil {
			return explain(err)
		}
		var w cacheWriter = show.NewCacheWriter(c.App.Writer)
		if c.Bool(daemon.JSONFlag.Name) {
			w = show.NewCacheJSONWriter(c.App.Writer)
		}
		for {
			chunk, err := stream.Recv()
			if err == io.EOF {
				return w.Close()
			}
			if err != nil {
				return explain(err)
			}
			if err := w.Write(chunk); err != nil {
				return err
			}
		}
	})
}

func showLog(c *cli.Context) error {
	return withClient(c, 0, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
		resp, err := client.ShowLog(ctx, &ctsyncv1.ShowLogRequest{Lines: uint32(c.Uint(daemon.LinesFlag.Name))})
		return reply(c, resp, err, func() string { return show.Log(resp.Records) })
	})
}

// featureCommands is the feature's node and its hidden misspelled twin
// (CS-O04), both with the same subcommands or action.
func featureCommands(usage string, subs func() []*cli.Command, action cli.ActionFunc, flags ...cli.Flag) []*cli.Command {
	cmd := func(n string, hidden bool) *cli.Command {
		c := &cli.Command{Name: n, Usage: usage, Hidden: hidden, Action: action, Flags: flags}
		if subs != nil {
			c.Subcommands = subs()
		}
		return c
	}
	return []*cli.Command{cmd(feature, false), cmd(typo, true)}
}

// resetCommand is `reset conntrack-sync internal-cache|external-cache`
// (CS-B18, CS-B19, CS-O04, CS-O05).
func resetCommand() *cli.Command {
	subs := func() []*cli.Command {
		return []*cli.Command{
			{Name: "internal-cache", Usage: "flush this node's cache, rebuild it from the kernel table and resend it to the peer (CS-B18)",
				Flags: []cli.Flag{daemon.JSONFlag}, Action: func(c *cli.Context) error { return resetCache(c, ctsyncv1.Cache_CACHE_INTERNAL) }},
			{Name: "external-cache", Usage: "flush the peer's connections and ask the peer to resend them (CS-B19)",
				Flags: []cli.Flag{daemon.JSONFlag}, Action: func(c *cli.Context) error { return resetCache(c, ctsyncv1.Cache_CACHE_EXTERNAL) }},
		}
	}
	return &cli.Command{
		Name: "reset", Usage: "flush a cache of the running daemon and rebuild it (the kernel table is never flushed)",
		Subcommands: featureCommands("conntrack synchronization's caches", subs, nil),
	}
}

func resetCache(c *cli.Context, cache ctsyncv1.Cache) error {
	return withClient(c, 0, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
		resp, err := client.ResetCache(ctx, &ctsyncv1.ResetCacheRequest{Cache: cache})
		return reply(c, resp, err, func() string { return show.ResetCache(cache, resp) })
	})
}

// restartCommand is `restart conntrack-sync` (CS-B17, CS-O06).
func restartCommand() *cli.Command {
	restart := func(c *cli.Context) error {
		return withClient(c, 0, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
			resp, err := client.Restart(ctx, &ctsyncv1.RestartRequest{})
			return reply(c, resp, err, func() string { return show.Restart(resp) })
		})
	}
	return &cli.Command{
		Name: "restart", Usage: "restart conntrack synchronization in the running daemon",
		Subcommands: featureCommands("reload the internal cache from the kernel, resync both ways, reset the counters (CS-B17)",
			nil, restart, daemon.JSONFlag),
	}
}

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "make the running daemon re-read its configuration file (applied only without errors)",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, 0, func(ctx context.Context, client ctsyncv1.CtsyncClient) error {
				resp, err := client.Reload(ctx, &ctsyncv1.ReloadRequest{})
				if err := reply(c, resp, err, func() string { return show.Reload(resp) }); err != nil {
					return err
				}
				if !resp.Applied {
					return cli.Exit("", 1) // show.Reload said why
				}
				return nil
			})
		},
	}
}

// validateCommand checks a file as the daemon would load it; it needs no
// daemon.
func validateCommand() *cli.Command {
	return &cli.Command{
		Name: "validate", Usage: "check a configuration file without applying it", ArgsUsage: "FILE",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: validate [--json] FILE")
			}
			file := c.Args().First()
			src, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read the configuration: %w", err)
			}
			cfg, diags := server.Check(file, src)
			resp := &ctsyncv1.ValidateResponse{Diagnostics: diags}
			if err := reply(c, resp, nil, func() string { return show.Validate(resp) }); err != nil {
				return err
			}
			if cfg == nil {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// monitorCommand is `monitor conntrack-sync`: state changes, commits,
// resyncs, the peer, and the log, live.
func monitorCommand() *cli.Command {
	return &cli.Command{
		Name: "monitor", Usage: "stream a daemon's events until interrupted",
		Subcommands: featureCommands(
			"state changes, commits, resyncs, the peer and log records of the running ctsyncd, live, until Ctrl-C (--json: one object a line)",
			nil, monitorSync, daemon.JSONFlag, daemon.DebugFlag),
	}
}

func monitorSync(c *cli.Context) error {
	if c.Args().Present() {
		return errors.New("usage: monitor conntrack-sync [--debug] [--json]")
	}
	debug := c.Bool(daemon.DebugFlag.Name)
	return daemon.FollowMonitor(c, daemon.MonitorSpec[ctsyncv1.MonitorEvent]{
		Daemon: "ctsyncd", What: "events and log records", Debug: debug, JSON: c.Bool(daemon.JSONFlag.Name),
		Open: func(ctx context.Context, conn *grpc.ClientConn) (grpc.ServerStreamingClient[ctsyncv1.MonitorEvent], error) {
			return ctsyncv1.NewCtsyncClient(conn).Monitor(ctx, &ctsyncv1.MonitorRequest{Debug: debug})
		},
		Render: show.MonitorEvent,
	})
}

// watchCommand is every daemon's `watch [GROUP]`, for a consumer: ctsyncd
// produces no group, so it streams the bus of the producer it follows
// (vrrpd or clusterd, from the configuration file), the followed group
// unless another is named; the JSON lines of daemon.WatchCommand.
func watchCommand() *cli.Command {
	return &cli.Command{
		Name:      "watch",
		Usage:     "stream the failover bus of the group ctsyncd follows (snapshot, then transitions) as JSON lines until interrupted",
		ArgsUsage: "[sync-group/NAME|cluster/NAME]",
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return errors.New("usage: watch [sync-group/NAME|cluster/NAME]")
			}
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			cfg, err := config.Load(opts.ConfigFile)
			if err != nil {
				return fmt.Errorf("%w (watch reads the failover mechanism from --%s)", err, daemon.FlagConfig)
			}
			if !cfg.Enabled {
				return fmt.Errorf("%s has no service conntrack-sync: no failover group to watch", opts.ConfigFile)
			}
			producer, group := "vrrpd", cfg.BusGroup()
			if cfg.Mechanism.Kind == config.MechanismCluster {
				producer = "clusterd"
			}
			if c.NArg() == 1 {
				group = c.Args().First()
			}
			return daemon.FollowBus(c, opts.SocketPathOf(producer), group)
		},
	}
}
