package daemon

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/pkg/bus"
)

// The flags the daemons' client commands share, with the same meaning in
// every daemon.
var (
	// JSONFlag is --json: the daemon's answer as JSON (Reply).
	JSONFlag = &cli.BoolFlag{Name: "json", Usage: "print the daemon's answer as JSON"}
	// LinesFlag is `show log`'s --lines.
	LinesFlag = &cli.UintFlag{Name: "lines", Aliases: []string{"n"}, Usage: "show only the last `N` records (0: all kept)"}
	// DebugFlag is `monitor`'s --debug.
	DebugFlag = &cli.BoolFlag{Name: "debug", Usage: "stream debug-level records too, without changing the daemon's log"}
)

// NoArgs refuses the arguments of a command that takes none.
func NoArgs(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected arguments %q", c.Args().Slice())
	}
	return nil
}

// Call dials the running daemon (--run-dir) and calls fn with its API
// client, which newClient (the generated New...Client) makes; timeout
// bounds the whole call, fn included.
func Call[C any](c *cli.Context, timeout time.Duration, newClient func(grpc.ClientConnInterface) C,
	fn func(ctx context.Context, client C) error) error {
	opts, err := OptionsFrom(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, timeout)
	defer cancel()
	conn, err := bus.Dial(ctx, opts.SocketPath())
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(ctx, newClient(conn))
}

// Reply prints the outcome of a call to the daemon: its error alone
// (ExplainRPC) when err is not nil, else its answer resp, with --json
// (JSONFlag) as encode gives it (the daemon's show.JSON), else as render
// gives it. render is only called without an error.
func Reply(c *cli.Context, resp proto.Message, err error, encode func(proto.Message) ([]byte, error), render func() string) error {
	if err != nil {
		return ExplainRPC(err)
	}
	if c.Bool(JSONFlag.Name) {
		out, err := encode(resp)
		if err != nil {
			return err
		}
		_, err = c.App.Writer.Write(out)
		return err
	}
	_, err = io.WriteString(c.App.Writer, render())
	return err
}
