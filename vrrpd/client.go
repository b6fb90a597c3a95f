package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/pkg/daemon"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/server"
	"github.com/hasuite/hasuite/vrrpd/internal/show"
)

// callTimeout bounds one request to the daemon.
const callTimeout = 10 * time.Second

// withClient dials the running daemon and calls fn with its API client.
func withClient(c *cli.Context, fn func(ctx context.Context, client vrrpv1.VrrpClient) error) error {
	return daemon.Call(c, callTimeout, vrrpv1.NewVrrpClient, fn)
}

// reply prints the daemon's answer (as JSON with --json, else as render
// gives it), or its error alone.
func reply(c *cli.Context, resp proto.Message, err error, render func() string) error {
	return daemon.Reply(c, resp, err, show.JSON, render)
}

// showCommand is `show vrrp ...` and `show interfaces vrrp`.
func showCommand() *cli.Command {
	showVrrp := func(detail bool, filter func(*cli.Context) (*vrrpv1.GroupFilter, error)) cli.ActionFunc {
		return func(c *cli.Context) error {
			f, err := filter(c)
			if err != nil {
				return err
			}
			return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
				resp, err := client.ShowVrrp(ctx, &vrrpv1.ShowVrrpRequest{Filter: f})
				return reply(c, resp, err, func() string {
					if detail {
						return show.Detail(resp.Groups, time.Now())
					}
					return show.Summary(resp.Groups, time.Now())
				})
			})
		}
	}
	noFilter := func(c *cli.Context) (*vrrpv1.GroupFilter, error) { return nil, daemon.NoArgs(c) }
	return &cli.Command{
		Name:  "show",
		Usage: "show the running daemon's state",
		Subcommands: []*cli.Command{
			{
				Name:   "vrrp",
				Usage:  "summary of every VRRP group",
				Flags:  []cli.Flag{daemon.JSONFlag},
				Action: showVrrp(false, noFilter),
				Subcommands: []*cli.Command{
					{Name: "detail", Usage: "every group in detail", Flags: []cli.Flag{daemon.JSONFlag}, Action: showVrrp(true, noFilter)},
					{
						Name: "interface", Usage: "the groups of one interface, in detail", ArgsUsage: "IF [group N]",
						Flags: []cli.Flag{daemon.JSONFlag}, Action: showVrrp(true, interfaceFilter),
					},
					{Name: "statistics", Usage: "each group's counters", Flags: []cli.Flag{daemon.JSONFlag}, Action: showStatistics},
					{Name: "sync-group", Usage: "the sync groups and their members", ArgsUsage: "[NAME]",
						Flags: []cli.Flag{daemon.JSONFlag}, Action: showSyncGroups},
				},
			},
			{
				Name:  "log",
				Usage: "logs by daemon",
				Subcommands: []*cli.Command{
					{Name: "vrrp", Usage: "vrrpd's most recent log records, oldest first (kept in memory)",
						Flags: []cli.Flag{daemon.JSONFlag, daemon.LinesFlag}, Action: showLog},
				},
			},
			{
				Name:  "interfaces",
				Usage: "interfaces by kind",
				Subcommands: []*cli.Command{
					{Name: "vrrp", Usage: "the interface of each VRRP group (its macvlan, or its parent in legacy mode)",
						ArgsUsage: "[NAME | detail]", Flags: []cli.Flag{daemon.JSONFlag}, Action: showInterfaces},
				},
			},
		},
	}
}

// interfaceFilter reads "IF [group N]".
func interfaceFilter(c *cli.Context) (*vrrpv1.GroupFilter, error) {
	f, err := parseInterfaceFilter(c.Args().Slice())
	if err != nil {
		return nil, errors.New("usage: show vrrp interface IF [group N]")
	}
	return f, nil
}

// parseInterfaceFilter reads "IF [group N]".
func parseInterfaceFilter(args []string) (*vrrpv1.GroupFilter, error) {
	switch {
	case len(args) == 1:
		return &vrrpv1.GroupFilter{Interface: args[0]}, nil
	case len(args) == 3 && args[1] == "group":
		ref, err := groupRef(args[0], args[2])
		if err != nil {
			return nil, err
		}
		return &vrrpv1.GroupFilter{Interface: ref.Interface, Group: ref.Group}, nil
	}
	return nil, errors.New("want IF [group N]")
}

func groupRef(ifname, group string) (*vrrpv1.GroupRef, error) {
	n, err := strconv.ParseUint(group, 10, 8)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("group %q: give a group id 1-255", group)
	}
	return &vrrpv1.GroupRef{Interface: ifname, Group: uint32(n)}, nil
}

func showStatistics(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowStatistics(ctx, &vrrpv1.ShowStatisticsRequest{})
		return reply(c, resp, err, func() string { return show.Statistics(resp.Groups) })
	})
}

func showSyncGroups(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowSyncGroups(ctx, &vrrpv1.ShowSyncGroupsRequest{Name: c.Args().First()})
		return reply(c, resp, err, func() string { return show.SyncGroups(resp.SyncGroups) })
	})
}

func showInterfaces(c *cli.Context) error {
	name, detail := c.Args().First(), false
	if name == "detail" {
		name, detail = "", true
	}
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowInterfaces(ctx, &vrrpv1.ShowInterfacesRequest{Name: name})
		return reply(c, resp, err, func() string {
			if detail {
				return show.InterfacesDetail(resp.Interfaces)
			}
			return show.Interfaces(resp.Interfaces)
		})
	})
}

// resetCommand is `reset vrrp master interface IF group N`.
func resetCommand() *cli.Command {
	master := &cli.Command{
		Name: "master", Usage: "force a MASTER group (and its sync group) to BACKUP", ArgsUsage: "interface IF group N",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) != 4 || args[0] != "interface" || args[2] != "group" {
				return errors.New("usage: reset vrrp master interface IF group N")
			}
			ref, err := groupRef(args[1], args[3])
			if err != nil {
				return err
			}
			return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
				resp, err := client.ResetMaster(ctx, &vrrpv1.ResetMasterRequest{Group: ref})
				if status.Code(err) == codes.FailedPrecondition {
					return cli.Exit(show.NotMaster(ref), 1)
				}
				return reply(c, resp, err, func() string { return show.ResetMaster(resp) })
			})
		},
	}
	return &cli.Command{
		Name: "reset", Usage: "reset state in the running daemon",
		Subcommands: []*cli.Command{{Name: "vrrp", Usage: "VRRP groups", Subcommands: []*cli.Command{master}}},
	}
}

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "make the running daemon re-read its configuration file (applied only without errors)",
		Flags: []cli.Flag{daemon.JSONFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
				resp, err := client.Reload(ctx, &vrrpv1.ReloadRequest{})
				if err := reply(c, resp, err, func() string { return reloadText(resp) }); err != nil {
					return err
				}
				if !resp.Applied {
					return cli.Exit("configuration not applied: fix the errors above and reload again", 1)
				}
				return nil
			})
		},
	}
}

func reloadText(resp *vrrpv1.ReloadResponse) string {
	text := show.Diagnostics(resp.Diagnostics)
	for _, change := range resp.Changes {
		text += change + "\n"
	}
	if resp.Applied && len(resp.Changes) == 0 {
		text += "No changes.\n"
	}
	return text
}

// validateCommand checks a file as the daemon would load it; it needs no
// daemon.
func validateCommand() *cli.Command {
	return &cli.Command{
		Name: "validate", Usage: "check a configuration file without applying it", ArgsUsage: "FILE",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: validate FILE")
			}
			opts, err := daemon.OptionsFrom(c)
			if err != nil {
				return err
			}
			file := c.Args().First()
			src, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read the configuration: %w", err)
			}
			cfg, diags := server.Check(file, src, opts.ScriptsDir)
			fmt.Fprint(c.App.Writer, show.Diagnostics(diags))
			if cfg == nil {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// explain keeps a daemon error's message alone.
var explain = daemon.ExplainRPC

func showLog(c *cli.Context) error {
	if err := daemon.NoArgs(c); err != nil {
		return err
	}
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowLog(ctx, &vrrpv1.ShowLogRequest{Lines: uint32(c.Uint(daemon.LinesFlag.Name))})
		return reply(c, resp, err, func() string { return show.Log(resp.Records) })
	})
}

// restartCommand is `restart vrrp [process]` (the guide prints both).
func restartCommand() *cli.Command {
	restart := func(c *cli.Context) error {
		if args := c.Args().Slice(); len(args) > 1 || (len(args) == 1 && args[0] != "process") {
			return errors.New("usage: restart vrrp [process]")
		}
		return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
			resp, err := client.Restart(ctx, &vrrpv1.RestartRequest{})
			return reply(c, resp, err, func() string { return show.Restart(resp) })
		})
	}
	return &cli.Command{
		Name: "restart", Usage: "restart a subsystem of the running daemon",
		Subcommands: []*cli.Command{{
			Name: "vrrp", ArgsUsage: "[process]", Flags: []cli.Flag{daemon.JSONFlag}, Action: restart,
			Usage: "re-read the configuration file, resign every group and start them again from INIT (a file with errors changes nothing)",
		}},
	}
}

// debugCommand is `debug vrrp on|off`.
func debugCommand() *cli.Command {
	return &cli.Command{
		Name: "debug", Usage: "turn a daemon's debug logging on or off",
		Subcommands: []*cli.Command{{
			Name: "vrrp", ArgsUsage: "on|off", Usage: "debug-level logging of the running vrrpd", Flags: []cli.Flag{daemon.JSONFlag},
			Action: func(c *cli.Context) error {
				if c.NArg() > 1 {
					return fmt.Errorf("unexpected arguments %q", c.Args().Tail())
				}
				switch c.Args().First() {
				case "on":
					return setDebug(c, true)
				case "off":
					return setDebug(c, false)
				}
				return errors.New("usage: debug vrrp on|off")
			},
		}},
	}
}

func setDebug(c *cli.Context, enabled bool) error {
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.SetDebugLogging(ctx, &vrrpv1.SetDebugLoggingRequest{Enabled: enabled})
		return reply(c, resp, err, func() string { return show.DebugLogging(enabled) })
	})
}

// monitorCommand is `monitor vrrp [interface IF [group N]]`, the guide's
// `monitor vrrp background start|stop` (VR-O09) and `monitor interfaces
// vrrp IF traffic|flow` (VR-O10, VR-O11, traffic.go).
func monitorCommand() *cli.Command {
	background := func(enabled bool) *cli.Command {
		name, usage := "start", "turn debug logging on in the daemon (as `debug vrrp on`)"
		if !enabled {
			name, usage = "stop", "turn it off again (as `debug vrrp off`)"
		}
		return &cli.Command{Name: name, Usage: usage, Flags: []cli.Flag{daemon.JSONFlag}, Action: func(c *cli.Context) error { return setDebug(c, enabled) }}
	}
	return &cli.Command{
		Name: "monitor", Usage: "stream a daemon's events until interrupted",
		Subcommands: []*cli.Command{{
			Name: "vrrp", ArgsUsage: "[interface IF [group N]]", Flags: []cli.Flag{daemon.JSONFlag, daemon.DebugFlag}, Action: monitor,
			Usage: "state changes and log records of the running vrrpd, live, until Ctrl-C (--json: one object a line)",
			Subcommands: []*cli.Command{{
				Name: "background", Usage: "debug logging in the daemon instead of a stream",
				Subcommands: []*cli.Command{background(true), background(false)},
			}},
		}, monitorInterfacesCommand()},
	}
}

func monitor(c *cli.Context) error {
	req := &vrrpv1.MonitorRequest{Debug: c.Bool(daemon.DebugFlag.Name)}
	if args := c.Args().Slice(); len(args) > 0 {
		var err error
		if args[0] != "interface" {
			err = errors.New("not interface")
		} else {
			req.Filter, err = parseInterfaceFilter(args[1:])
		}
		if err != nil {
			return errors.New("usage: monitor vrrp [--debug] [--json] [interface IF [group N]]")
		}
	}
	return daemon.FollowMonitor(c, daemon.MonitorSpec[vrrpv1.MonitorEvent]{
		Daemon: name, Banner: show.MonitorStarted(req.Debug), JSON: c.Bool(daemon.JSONFlag.Name),
		Open: func(ctx context.Context, conn *grpc.ClientConn) (grpc.ServerStreamingClient[vrrpv1.MonitorEvent], error) {
			return vrrpv1.NewVrrpClient(conn).Monitor(ctx, req)
		},
		Render: show.MonitorEvent,
	})
}
