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
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
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
				Name:  "interfaces",
				Usage: "interfaces by kind",
				Subcommands: []*cli.Command{
					{Name: "vrrp", Usage: "the VRRP (virtual MAC) interfaces", ArgsUsage: "[NAME]",
						Flags: []cli.Flag{jsonFlag}, Action: showInterfaces},
				},
			},
		},
	}
}

// interfaceFilter reads "IF [group N]".
func interfaceFilter(c *cli.Context) (*vrrpv1.GroupFilter, error) {
	args := c.Args().Slice()
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
	return nil, errors.New("usage: show vrrp interface IF [group N]")
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
	return withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		resp, err := client.ShowInterfaces(ctx, &vrrpv1.ShowInterfacesRequest{Name: c.Args().First()})
		if err != nil {
			return explain(err)
		}
		return output(c, resp, func() string { return show.Interfaces(resp.Interfaces) })
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

// watchCommand prints the bus's view of vrrpd's groups, a JSON object a
// line: the snapshot, its end marker, then every transition.
func watchCommand() *cli.Command {
	return &cli.Command{
		Name: "watch", Usage: "stream the failover bus (snapshot, then transitions) as JSON lines until interrupted",
		ArgsUsage: "[GROUP]",
		Action: func(c *cli.Context) error {
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
			stream, err := busv1.NewFailoverClient(conn).Watch(ctx, &busv1.WatchRequest{Group: c.Args().First()})
			if err != nil {
				return explain(err)
			}
			for {
				msg, err := stream.Recv()
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					return explain(err)
				}
				line, err := protojson.Marshal(msg)
				if err != nil {
					return fmt.Errorf("encode a bus message as JSON: %w", err)
				}
				fmt.Fprintf(c.App.Writer, "%s\n", line)
			}
		},
	}
}

// explain turns a gRPC error into the daemon's own message.
func explain(err error) error {
	if s, ok := status.FromError(err); ok {
		return errors.New(s.Message())
	}
	return err
}
