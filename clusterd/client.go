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

	"github.com/hasuite/hasuite/clusterd/internal/server"
	"github.com/hasuite/hasuite/clusterd/internal/show"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// callTimeout bounds one request to the daemon.
const callTimeout = 10 * time.Second

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the daemon's answer as JSON"}

// withClient dials the running daemon and calls fn with its API client.
func withClient(c *cli.Context, fn func(ctx context.Context, client clusterv1.ClusterClient) error) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected arguments %q", c.Args().Slice())
	}
	opts, err := daemon.OptionsFrom(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, callTimeout)
	defer cancel()
	conn, err := bus.Dial(ctx, opts.SocketPath())
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(ctx, clusterv1.NewClusterClient(conn))
}

// output writes resp as JSON with --json, else as render gives it.
func output(c *cli.Context, resp proto.Message, render func() string) error {
	if c.Bool(jsonFlag.Name) {
		out, err := show.JSON(resp)
		if err != nil {
			return err
		}
		_, err = c.App.Writer.Write(out)
		return err
	}
	_, err := io.WriteString(c.App.Writer, render())
	return err
}

// explain turns a gRPC error into the daemon's own message.
// explain keeps a daemon error's message alone.
var explain = daemon.ExplainRPC

var linesFlag = &cli.UintFlag{Name: "lines", Aliases: []string{"n"}, Usage: "show only the last `N` records (0: all kept)"}

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
						Flags: []cli.Flag{jsonFlag}, Action: showStatus},
					{Name: "nodes", Usage: "both nodes' identity, addresses and heartbeat links",
						Flags: []cli.Flag{jsonFlag}, Action: showNodes},
					{Name: "statistics", Usage: "heartbeat (per link), monitor, resource, gate and failover counters since the daemon started",
						Flags: []cli.Flag{jsonFlag}, Action: showStatistics},
				},
			},
			{
				Name:  "log",
				Usage: "logs by daemon",
				Subcommands: []*cli.Command{
					{Name: "cluster", Usage: "clusterd's most recent log records, oldest first (kept in memory)",
						Flags: []cli.Flag{jsonFlag, linesFlag}, Action: showLog},
				},
			},
		},
	}
}

func showStatus(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowStatus(ctx, &clusterv1.ShowStatusRequest{})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Status(resp.Status) })
	})
}

func showNodes(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowNodes(ctx, &clusterv1.ShowNodesRequest{})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Nodes(resp.Nodes, time.Now()) })
	})
}

func showStatistics(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowStatistics(ctx, &clusterv1.ShowStatisticsRequest{})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Statistics(resp, time.Now()) })
	})
}

func showLog(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
		resp, err := client.ShowLog(ctx, &clusterv1.ShowLogRequest{Lines: uint32(c.Uint(linesFlag.Name))})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Log(resp.Records) })
	})
}

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "make the running daemon re-read its configuration file (applied only without errors)",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
				resp, err := client.Reload(ctx, &clusterv1.ReloadRequest{})
				if err != nil {
					return explain(err)
				}
				if err := output(c, resp, func() string { return show.Reload(resp) }); err != nil {
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
		Flags: []cli.Flag{jsonFlag},
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
			if err := output(c, resp, func() string { return show.Diagnostics(diags) }); err != nil {
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
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
				resp, err := client.Standby(ctx, &clusterv1.StandbyRequest{})
				if err != nil {
					return explain(err)
				}
				return output(c, resp, func() string { return show.Standby(resp) })
			})
		},
	}
}

func takeoverCommand() *cli.Command {
	return &cli.Command{
		Name: "takeover", Usage: "take the resources from the peer (heartbeat's hb_takeover)",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client clusterv1.ClusterClient) error {
				resp, err := client.Takeover(ctx, &clusterv1.TakeoverRequest{})
				if err != nil {
					return explain(err)
				}
				return output(c, resp, func() string { return show.Takeover(resp) })
			})
		},
	}
}

var debugFlag = &cli.BoolFlag{Name: "debug", Usage: "stream debug-level records too, without changing the daemon's log"}

// monitorCommand is `monitor cluster`: the nodes' and the resources'
// changes and the log, live.
func monitorCommand() *cli.Command {
	return &cli.Command{
		Name: "monitor", Usage: "stream a daemon's events until interrupted",
		Subcommands: []*cli.Command{{
			Name: "cluster", Flags: []cli.Flag{jsonFlag, debugFlag}, Action: monitorCluster,
			Usage: "node and resource changes and log records of the running clusterd, live, until Ctrl-C (--json: one object a line)",
		}},
	}
}

func monitorCluster(c *cli.Context) error {
	if c.Args().Present() {
		return errors.New("usage: monitor cluster [--debug] [--json]")
	}
	debug := c.Bool(debugFlag.Name)
	return daemon.FollowMonitor(c, daemon.MonitorSpec[clusterv1.MonitorEvent]{
		Daemon: "clusterd", What: "changes and log records", Debug: debug, JSON: c.Bool(jsonFlag.Name),
		Open: func(ctx context.Context, conn *grpc.ClientConn) (grpc.ServerStreamingClient[clusterv1.MonitorEvent], error) {
			return clusterv1.NewClusterClient(conn).Monitor(ctx, &clusterv1.MonitorRequest{Debug: debug})
		},
		Render: show.MonitorEvent,
	})
}
