package bus

import (
	"errors"
	"log/slog"
	"os/user"
	"strconv"

	"google.golang.org/grpc"
)

// DefaultAccessGroup is the group whose members may use a daemon's socket,
// besides root.
const DefaultAccessGroup = "hasuite"

// GroupLookup resolves a group name to its gid. found is false when the
// group does not exist, which is not an error.
type GroupLookup func(name string) (gid uint32, found bool, err error)

// SocketOption configures [Listen] and [NewServer].
type SocketOption func(*socketConfig)

type socketConfig struct {
	accessGroup string
	lookupGroup GroupLookup
	grpcOptions []grpc.ServerOption
}

// WithAccessGroup names the group allowed to use the socket instead of
// [DefaultAccessGroup].
func WithAccessGroup(name string) SocketOption {
	return func(c *socketConfig) { c.accessGroup = name }
}

// WithGroupLookup replaces the /etc/group lookup (os/user), for tests.
func WithGroupLookup(lookup GroupLookup) SocketOption {
	return func(c *socketConfig) { c.lookupGroup = lookup }
}

// WithGRPCServerOptions adds options to the *grpc.Server that [NewServer]
// builds. Listen ignores them.
func WithGRPCServerOptions(opts ...grpc.ServerOption) SocketOption {
	return func(c *socketConfig) { c.grpcOptions = append(c.grpcOptions, opts...) }
}

func newSocketConfig(opts []SocketOption) socketConfig {
	c := socketConfig{accessGroup: DefaultAccessGroup, lookupGroup: lookupSystemGroup}
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

// lookupSystemGroup is the default GroupLookup.
func lookupSystemGroup(name string) (uint32, bool, error) {
	g, err := user.LookupGroup(name)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, false, err
	}
	return uint32(gid), true, nil
}

// orDiscard lets callers pass a nil logger.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
