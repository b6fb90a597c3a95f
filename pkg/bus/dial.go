package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// SocketPath is where a daemon listens: <runDir>/<daemon>.sock.
func SocketPath(runDir, daemon string) string {
	return filepath.Join(runDir, daemon+".sock")
}

// Dialer opens a client connection to a producer; [WatchFailover] and
// [Holder] call it again after every lost connection.
type Dialer func(ctx context.Context) (*grpc.ClientConn, error)

// DialerFor returns a Dialer for the socket at path (see [Dial]).
func DialerFor(path string) Dialer {
	return func(ctx context.Context) (*grpc.ClientConn, error) { return Dial(ctx, path) }
}

// Dial connects to the daemon listening on the unix socket at path. When
// nothing answers there it fails at once with an error matching
// [ErrUnreachable] that says so ("cannot reach vrrpd at
// /run/hasuite/vrrpd.sock: is it running? (connect: no such file or
// directory)"), instead of leaving each call to fail later.
func Dial(ctx context.Context, path string) (*grpc.ClientConn, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve socket path %s: %w", path, err)
	}
	var dialer net.Dialer
	probe, err := dialer.DialContext(ctx, "unix", abs)
	if err != nil {
		return nil, &unreachableError{daemon: daemonName(path), path: path, cause: dialCause(err)}
	}
	probe.Close()
	conn, err := grpc.NewClient("unix://"+abs, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", daemonName(path), path, err)
	}
	return conn, nil
}

// dialCause strips the address from a dial error, which the caller's
// message already names: "connect: no such file or directory".
func dialCause(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err
	}
	return err
}
