package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/server"
	"github.com/hasuite/hasuite/vrrpd/internal/show"
)

// callTimeout bounds one request to the daemon.
const callTimeout = 10 * time.Second

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the daemon's answer as JSON"}

// withClient dials the running daemon and calls fn with its API client.
func withClient(c *cli.Context, fn func(ctx context.Context, client vrrpv1.VrrpClient) error) error {
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
	return fn(ctx, vrrpv1.NewVrrpClient(conn))
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
				if err != nil {
					return explain(err)
				}
				return output(c, resp, func() string {
					if detail {
						return show.Detail(resp.Groups, time.Now())
					}
					return show.Summary(resp.Groups, time.Now())
				})
			})
		}
	}
	noFilter := func(c *cli.Context) (*vrrpv1.GroupFilter, error) {
		if c.Args().Present() {
			return nil, fmt.Errorf("unexpected arguments %q", c.Args().Slice())
		}
		return nil, nil
	}
	return &cli.Command{
		Name:  "show",
		Usage: "show the running daemon's state",
		Subcommands: []*cli.Command{
			{
				Name:   "vrrp",
				Usage:  "summary of every VRRP group",
				Flags:  []cli.Flag{jsonFlag},
				Action: showVrrp(false, noFilter),
				Subcommands: []*cli.Command{
					{Name: "detail", Usage: "every group in detail", Flags: []cli.Flag{jsonFlag}, Action: showVrrp(true, noFilter)},
					{
						Name: "interface", Usage: "the groups of one interface, in detail", ArgsUsage: "IF [group N]",
						Flags: []cli.Flag{jsonFlag}, Action: showVrrp(true, interfaceFilter),
					},
					{Name: "statistics", Usage: "each group's counters", Flags: []cli.Flag{jsonFlag}, Action: showStatistics},
					{Name: "sync-group", Usage: "the sync groups and their members", ArgsUsage: "[NAME]",
						Flags: []cli.Flag{jsonFlag}, Action: showSyncGroups},
				},
			},
			{
				Name:  "log",
				Usage: "logs by daemon",
				Subcommands: []*cli.Command{
					{Name: "vrrp", Usage: "vrrpd's most recent log records, oldest first (kept in memory)",
						Flags: []cli.Flag{jsonFlag, linesFlag}, Action: showLog},
				},
			},
			{
				Name:  "interfaces",
				Usage: "interfaces by kind",
				Subcommands: []*cli.Command{
					{Name: "vrrp", Usage: "the interface of each VRRP group (its macvlan, or its parent in legacy mode)",
						ArgsUsage: "[NAME | detail]", Flags: []cli.Flag{jsonFlag}, Action: showInterfaces},
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
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Statistics(resp.Groups) })
	})
}

func showSyncGroups(c *cli.Context) error {
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowSyncGroups(ctx, &vrrpv1.ShowSyncGroupsRequest{Name: c.Args().First()})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.SyncGroups(resp.SyncGroups) })
	})
}

func showInterfaces(c *cli.Context) error {
	name, detail := c.Args().First(), false
	if name == "detail" {
		name, detail = "", true
	}
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowInterfaces(ctx, &vrrpv1.ShowInterfacesRequest{Name: name})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string {
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
		Flags: []cli.Flag{jsonFlag},
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
				if err != nil {
					return explain(err)
				}
				return output(c, resp, func() string { return show.ResetMaster(resp) })
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
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
				resp, err := client.Reload(ctx, &vrrpv1.ReloadRequest{})
				if err != nil {
					return explain(err)
				}
				if err := output(c, resp, func() string { return reloadText(resp) }); err != nil {
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

// explain turns a gRPC error into the daemon's own message.
// explain keeps a daemon error's message alone.
var explain = daemon.ExplainRPC

var linesFlag = &cli.UintFlag{Name: "lines", Aliases: []string{"n"}, Usage: "show only the last `N` records (0: all kept)"}

func showLog(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected arguments %q", c.Args().Slice())
	}
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowLog(ctx, &vrrpv1.ShowLogRequest{Lines: uint32(c.Uint(linesFlag.Name))})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Log(resp.Records) })
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
			if err != nil {
				return explain(err)
			}
			return output(c, resp, func() string { return show.Restart(resp) })
		})
	}
	return &cli.Command{
		Name: "restart", Usage: "restart a subsystem of the running daemon",
		Subcommands: []*cli.Command{{
			Name: "vrrp", ArgsUsage: "[process]", Flags: []cli.Flag{jsonFlag}, Action: restart,
			Usage: "re-read the configuration file, resign every group and start them again from INIT (a file with errors changes nothing)",
		}},
	}
}

// debugCommand is `debug vrrp on|off`.
func debugCommand() *cli.Command {
	return &cli.Command{
		Name: "debug", Usage: "turn a daemon's debug logging on or off",
		Subcommands: []*cli.Command{{
			Name: "vrrp", ArgsUsage: "on|off", Usage: "debug-level logging of the running vrrpd", Flags: []cli.Flag{jsonFlag},
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
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.DebugLogging(enabled) })
	})
}

var debugFlag = &cli.BoolFlag{Name: "debug", Usage: "stream debug-level records too, without changing the daemon's log"}

// monitorCommand is `monitor vrrp [interface IF [group N]]`, the guide's
// `monitor vrrp background start|stop` (VR-O09) and `monitor interfaces
// vrrp IF traffic|flow` (VR-O10, VR-O11, traffic.go).
func monitorCommand() *cli.Command {
	background := func(enabled bool) *cli.Command {
		name, usage := "start", "turn debug logging on in the daemon (as `debug vrrp on`)"
		if !enabled {
			name, usage = "stop", "turn it off again (as `debug vrrp off`)"
		}
		return &cli.Command{Name: name, Usage: usage, Flags: []cli.Flag{jsonFlag}, Action: func(c *cli.Context) error { return setDebug(c, enabled) }}
	}
	return &cli.Command{
		Name: "monitor", Usage: "stream a daemon's events until interrupted",
		Subcommands: []*cli.Command{{
			Name: "vrrp", ArgsUsage: "[interface IF [group N]]", Flags: []cli.Flag{jsonFlag, debugFlag}, Action: monitor,
			Usage: "state changes and log records of the running vrrpd, live, until Ctrl-C (--json: one object a line)",
			Subcommands: []*cli.Command{{
				Name: "background", Usage: "debug logging in the daemon instead of a stream",
				Subcommands: []*cli.Command{background(true), background(false)},
			}},
		}, monitorInterfacesCommand()},
	}
}

func monitor(c *cli.Context) error {
	req := &vrrpv1.MonitorRequest{Debug: c.Bool(debugFlag.Name)}
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
	opts, err := daemon.OptionsFrom(c)
	if err != nil {
		return err
	}
	ctx, _, stop := daemon.HandleSignals(c.Context)
	defer stop()
	conn, err := bus.Dial(ctx, opts.SocketPath())
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := vrrpv1.NewVrrpClient(conn).Monitor(ctx, req)
	if err != nil {
		return explain(err)
	}
	// Headers come once the daemon has subscribed.
	if _, err := stream.Header(); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return explain(err)
	}
	fmt.Fprint(c.App.ErrWriter, show.MonitorStarted(req.Debug))
	for {
		ev, err := stream.Recv()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == io.EOF || status.Code(err) == codes.Unavailable:
			fmt.Fprintln(c.App.ErrWriter, "vrrpd stopped: end of monitoring")
			return nil
		case err != nil:
			return explain(err)
		}
		if c.Bool(jsonFlag.Name) {
			line, err := protojson.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode a monitor event as JSON: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "%s\n", line)
			continue
		}
		fmt.Fprint(c.App.Writer, show.MonitorEvent(ev))
	}
}
