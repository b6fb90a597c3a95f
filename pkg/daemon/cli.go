package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

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
			return FollowBus(c, opts.SocketPath(), c.Args().First())
		},
	}
}

// FollowBus prints the failover bus served on socket as `watch` does, for
// group (empty: every group), until interrupted: a producer's own `watch`
// reads its own socket, a consumer's the socket of the producer it follows.
func FollowBus(c *cli.Context, socket, group string) error {
	ctx, _, stop := HandleSignals(c.Context)
	defer stop()
	conn, err := bus.Dial(ctx, socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := busv1.NewFailoverClient(conn).Watch(ctx, &busv1.WatchRequest{Group: group})
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
}

// MonitorSpec describes a daemon's `monitor` command for FollowMonitor.
// E is the daemon's generated MonitorEvent message type.
type MonitorSpec[E any] struct {
	// Daemon names the daemon in the messages ("clusterd").
	Daemon string
	// What is what the stream carries ("changes and log records").
	What string
	// Debug: the request asked for debug records too (said in the banner).
	Debug bool
	// Banner, when not empty, replaces the banner made of Daemon, What and
	// Debug (vrrpd keeps the guide's wording).
	Banner string
	// JSON prints each event as one protojson object a line.
	JSON bool
	// Open starts the daemon's Monitor stream on conn.
	Open func(ctx context.Context, conn *grpc.ClientConn) (grpc.ServerStreamingClient[E], error)
	// Render is an event as text.
	Render func(*E) string
}

// FollowMonitor is every daemon's `monitor`: it connects to the daemon's
// socket, prints its events until interrupted (Ctrl-C) or until the daemon
// stops, and says which on standard error.
func FollowMonitor[E any](c *cli.Context, spec MonitorSpec[E]) error {
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
	stream, err := spec.Open(ctx, conn)
	if err != nil {
		return ExplainRPC(err)
	}
	// Headers come once the daemon has subscribed.
	if _, err := stream.Header(); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return ExplainRPC(err)
	}
	if spec.Banner != "" {
		fmt.Fprint(c.App.ErrWriter, spec.Banner)
	} else {
		what := spec.What
		if spec.Debug {
			what += " (debug included)"
		}
		fmt.Fprintf(c.App.ErrWriter, "Monitoring %s: %s until interrupted (Ctrl-C).\n", spec.Daemon, what)
	}
	for {
		ev, err := stream.Recv()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == io.EOF || status.Code(err) == codes.Unavailable:
			fmt.Fprintf(c.App.ErrWriter, "%s stopped: end of monitoring\n", spec.Daemon)
			return nil
		case err != nil:
			return ExplainRPC(err)
		}
		if spec.JSON {
			msg, ok := any(ev).(proto.Message)
			if !ok {
				return fmt.Errorf("%T is not a protobuf message", ev)
			}
			line, err := protojson.Marshal(msg)
			if err != nil {
				return fmt.Errorf("encode a monitor event as JSON: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "%s\n", line)
			continue
		}
		fmt.Fprint(c.App.Writer, spec.Render(ev))
	}
}
