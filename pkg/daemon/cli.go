package daemon

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/bus"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// ExplainRPC turns a gRPC error from a daemon into its message alone: the
// daemon's errors already say what to do, and the status code prefix is
// noise to an operator.
func ExplainRPC(err error) error {
	if s, ok := status.FromError(err); ok {
		return errors.New(s.Message())
	}
	return err
}

// WatchCommand is every daemon's `watch [GROUP]`: the bus's view of the
// daemon's groups (snapshot, its end marker, then every transition), a JSON
// object a line, until interrupted. groupUsage names the group argument in
// the usage line (e.g. "eth0/99").
func WatchCommand(groupUsage string) *cli.Command {
	return &cli.Command{
		Name: "watch", Usage: "stream the failover bus (snapshot, then transitions) as JSON lines until interrupted",
		ArgsUsage: "[" + groupUsage + "]",
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return fmt.Errorf("usage: watch [%s]", groupUsage)
			}
			opts, err := OptionsFrom(c)
			if err != nil {
				return err
			}
			ctx, _, stop := HandleSignals(c.Context)
			defer stop()
			conn, err := bus.Dial(ctx, opts.SocketPath())
			if err != nil {
				return err
			}
			defer conn.Close()
			stream, err := busv1.NewFailoverClient(conn).Watch(ctx, &busv1.WatchRequest{Group: c.Args().First()})
			if err != nil {
				return ExplainRPC(err)
			}
			for {
				msg, err := stream.Recv()
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					return ExplainRPC(err)
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
