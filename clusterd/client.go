package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/clusterd/internal/server"
	"github.com/hasuite/hasuite/clusterd/internal/show"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// callTimeout bounds one request to the daemon.
const callTimeout = 10 * time.Second

// withClient dials the running daemon and calls fn with its API client.
// Its commands take no arguments.
func withClient(c *cli.Context, fn func(ctx context.Context, client clusterv1.ClusterClient) error) error {
	if err := daemon.NoArgs(c); err != nil {
		return err
	}
	return daemon.Call(c, callTimeout, clusterv1.NewClusterClient, fn)
}

// reply prints the daemon's answer (as JSON with --json, else as render
// gives it), or its error alone.
func reply(c *cli.Context, resp proto.Message, err error, render func() string) error {
	return daemon.Reply(c, resp, err, show.JSON, render)
}

// showCommand is `show cluster status|nodes|statistics` and `show log
// cluster`.
func showCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "show the running daemon's state",
		Subcommands: []*cli.Command{
			{
				Name:  "cluster",
				Usage: "the cluster group",
				Subcommands: []*cli.Command{
					{Name: "status", Usage: "both nodes, the monitors and who holds the resources, as the guide prints it",
						Flags: []cli.Flag{daemon.JSONFlag}, Action: showStatus},
					{Name: "nodes", Usage: "both nodes' identity, addresses and heartbeat links",
						Flags: []cli.Flag{daemon.JSONFlag}, Action: showNodes},
					{Name: "statistics", Usage: "heartbeat (per link), monitor, resource, gate and failover counters since the daemon started",
						Flags: []cli.Flag{daemon.JSONFlag}, Action: showStatistics},
				},
			},
			{
				Name:  "log",
				Usage: "logs by daemon",
				Subcommands: []*cli.Command{
					{Name: "cluster", Usage: "clusterd's most recent log records, oldest first (kept in memory)",
						Flags: []cli.Flag{daemon.JSONFlag, daemon.LinesFlag}, Action: showLog},
				},
			},
		},
	}
}

func showStatus(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowStatus(ctx, &clusterv1.ShowStatusRequest{})
		return reply(c, resp, err, func() string { return show.Status(resp.Status) })
	})
}

func showNodes(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowNodes(ctx, &clusterv1.ShowNodesRequest{})
		return reply(c, resp, err, func() string { return show.Nodes(resp.Nodes, time.Now()) })
	})
}

func showStatistics(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowStatistics(ctx, &clusterv1.ShowStatisticsRequest{})
		return reply(c, resp, err, func() string { return show.Statistics(resp, time.Now()) })
	})
}

func showLog(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowLog(ctx, &clusterv1.ShowLogRequest{Lines: uint32(c.Uint(daemon.LinesFlag.Name))})
		return reply(c, resp, err, func() string { return show.Log(resp.Records) })
	})
}

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "make the running daemon re-read its configuration file (applied only without errors)",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
				resp, err := client.Reload(ctx, &clusterv1.ReloadRequest{})
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

// validateCommand checks a file as the daemon would load it, scripts
// looked up in --resource-dir and --init-dir; it needs no daemon.
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
			cfg, diags := server.Check(file, src, serviceOptions(c))
			resp := &clusterv1.ValidateResponse{Diagnostics: diags}
			if err := reply(c, resp, nil, func() string { return show.Diagnostics(diags) }); err != nil {
				return err
			}
			if cfg == nil {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

func standbyCommand() *cli.Command {
	return &cli.Command{
		Name: "standby", Usage: "give the resources this node holds to the peer (heartbeat's hb_standby)",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
				resp, err := client.Standby(ctx, &clusterv1.StandbyRequest{})
				return reply(c, resp, err, func() string { return show.Standby(resp) })
			})
		},
	}
}

func takeoverCommand() *cli.Command {
	return &cli.Command{
		Name: "takeover", Usage: "take the resources from the peer (heartbeat's hb_takeover)",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
				resp, err := client.Takeover(ctx, &clusterv1.TakeoverRequest{})
				return reply(c, resp, err, func() string { return show.Takeover(resp) })
			})
		},
	}
}

// monitorCommand is `monitor cluster`: the nodes' and the resources'
// changes and the log, live.
func monitorCommand() *cli.Command {
	return &cli.Command{
		Name: "monitor", Usage: "stream a daemon's events until interrupted",
		Subcommands: []*cli.Command{{
			Name: "cluster", Flags: []cli.Flag{daemon.JSONFlag, daemon.DebugFlag}, Action: monitorCluster,
			Usage: "node and resource changes and log records of the running clusterd, live, until Ctrl-C (--json: one object a line)",
		}},
	}
}

func monitorCluster(c *cli.Context) error {
	if c.Args().Present() {
		return errors.New("usage: monitor cluster [--debug] [--json]")
	}
	debug := c.Bool(daemon.DebugFlag.Name)
	return daemon.FollowMonitor(c, daemon.MonitorSpec[clusterv1.MonitorEvent]{
		Daemon: "clusterd", What: "changes and log records", Debug: debug, JSON: c.Bool(daemon.JSONFlag.Name),
		Open: func(ctx context.Context, conn *grpc.ClientConn) (grpc.ServerStreamingClient[clusterv1.MonitorEvent], error) {
			return clusterv1.NewClusterClient(conn).Monitor(ctx, &clusterv1.MonitorRequest{Debug: debug})
		},
		Render: show.MonitorEvent,
	})
}
